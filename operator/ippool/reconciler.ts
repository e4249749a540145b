// The IPPool reconciler (docs/operator.md#ippool-status): keeps status.totalIPCount and status.allocatedIPCount equal
// to the pool's spec and allocation records, keeps the ippool-cidr label, and holds a finalizer that is released only
// once nothing is allocated from the pool. It never writes allocatedIPs (the agents and the GC own it), and every write
// is conditional on the resourceVersion it was computed from, so a write racing an agent fails with 409 and is
// recomputed instead of overwriting the agent.
import { CustomObjectsApi } from '@kubernetes/client-node';
import { GROUP, VERSION } from '../../api/v2beta1/constants.ts';
import { KINDS } from '../../api/v2beta1/kinds.ts';
import type { SpiderIPPool } from '../../api/v2beta1/types.ts';
import { isNotFound } from '../../lib/kube.ts';
import { keyOf, type Reconciler, type ReconcilerContext } from '../runtime/types.ts';
import { registerPoolMetrics } from './metrics.ts';
import { InvalidPool, finalizerRemovalPatch, metadataPatch, poolCounts, statusPatch, type PatchOp } from './status.ts';

export const IPPOOL_RECONCILER = 'ippool';

export function createIPPoolReconciler({ caches, kubeConfig, log, registry }: ReconcilerContext): Reconciler {
  const pools = caches.of<SpiderIPPool>(KINDS.SpiderIPPool);
  const api = kubeConfig.makeApiClient(CustomObjectsApi);
  const target = (name: string) => ({ group: GROUP, version: VERSION, plural: KINDS.SpiderIPPool.plural, name });
  const patch = async (name: string, body: PatchOp[]) =>
    (await api.patchClusterCustomObject({ ...target(name), body })) as SpiderIPPool;
  // Gone since the cache saw it: the next watch event removes it from the cache, nothing is left to do.
  const ignoreNotFound = (err: unknown) => {
    if (!isNotFound(err)) throw err;
  };
  const patchStatus = async (name: string, body: PatchOp[]) =>
    (await api.patchClusterCustomObjectStatus({ ...target(name), body })) as SpiderIPPool;
  registerPoolMetrics(registry, pools, log);

  return {
    name: IPPOOL_RECONCILER,
    watches: [{ kind: KINDS.SpiderIPPool, keys: (pool) => [keyOf(pool)] }],
    async reconcile(key) {
      const pool = pools.get(key);
      if (pool) await reconcilePool(pool).catch(ignoreNotFound);
    },
  };

  async function reconcilePool(cached: SpiderIPPool): Promise<void> {
    let pool = cached;
    const name = pool.metadata.name;
    let counts;
    try {
      counts = poolCounts(pool);
    } catch (err) {
      // Wrong input is not retried: the pool's next edit brings it back.
      if (err instanceof InvalidPool)
        return void log.error('cannot count the pool', { controller: IPPOOL_RECONCILER, pool: name, err: err.message });
      throw err;
    }
    if (pool.metadata.deletionTimestamp) {
      const removal = counts.allocated === 0 ? finalizerRemovalPatch(pool) : undefined;
      if (removal) {
        await patch(name, removal);
        log.info('released the finalizer of a deleted pool', { controller: IPPOOL_RECONCILER, pool: name });
        return;
      }
    } else {
      const metadata = metadataPatch(pool);
      if (metadata) pool = await patch(name, metadata);
    }
    const status = statusPatch(pool, counts);
    if (status) await patchStatus(name, status);
  }
}
