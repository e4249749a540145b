// The IPPool reconciler (docs/operator.md#ippool-status): keeps status.totalIPCount and status.allocatedIPCount equal
// to the pool's spec and allocation records, keeps the ippool-cidr label, and holds a finalizer that is released only
// once nothing is allocated from the pool. It never writes allocatedIPs (the agents and the GC own it), and every write
// is conditional on the resourceVersion it was computed from, so a write racing an agent fails with 409 and is
// recomputed instead of overwriting the agent.
import { KINDS } from '../../api/v2beta1/kinds.ts';
import type { SpiderIPPool } from '../../api/v2beta1/types.ts';
import { JsonClient } from '../../lib/json-client.ts';
import { isNotFound, requestTimeoutOf } from '../../lib/kube.ts';
import { poolPath } from '../../lib/spiderpool-client.ts';
import { keyOf, type Reconciler, type ReconcilerContext } from '../runtime/types.ts';
import { registerPoolMetrics } from './metrics.ts';
import { overlapsOf } from './overlap.ts';
import { InvalidPool, finalizerRemovalPatch, metadataPatch, poolCounts, statusPatch, type PatchOp } from './status.ts';

export const IPPOOL_RECONCILER = 'ippool';

export function createIPPoolReconciler({ caches, kubeConfig, log, registry, events }: ReconcilerContext): Reconciler {
  const pools = caches.of<SpiderIPPool>(KINDS.SpiderIPPool);
  const overlaps = overlapsOf(pools);
  // A cold start writes every pool once. Plain JSON requests skip client-node's per-request work (credentials,
  // serializer), CPU that on a small control-plane node the apiserver needs for those writes.
  const json = new JsonClient(kubeConfig, requestTimeoutOf(kubeConfig) ?? 30_000);
  const jsonPatch = (path: string, body: PatchOp[]) =>
    json.request<SpiderIPPool>('PATCH', path, { body, contentType: 'application/json-patch+json' });
  const patch = (name: string, body: PatchOp[]) => jsonPatch(poolPath(name), body);
  // Gone since the cache saw it: the next watch event removes it from the cache, nothing is left to do.
  const ignoreNotFound = (err: unknown) => {
    if (!isNotFound(err)) throw err;
  };
  const patchStatus = (name: string, body: PatchOp[]) => jsonPatch(`${poolPath(name)}/status`, body);
  registerPoolMetrics(registry, pools, log, overlaps);

  return {
    name: IPPOOL_RECONCILER,
    // A new pool that overlaps others flags them too, not only itself.
    watches: [
      {
        kind: KINDS.SpiderIPPool,
        keys: (pool) => [keyOf(pool), ...(overlaps().get(keyOf(pool)) ?? []).map((o) => o.pool)],
      },
    ],
    async reconcile(key) {
      const pool = pools.get(key);
      if (!pool) return;
      await flagOverlaps(pool);
      await reconcilePool(pool).catch(ignoreNotFound);
    },
  };

  async function flagOverlaps(pool: SpiderIPPool): Promise<void> {
    const { name, uid = '' } = pool.metadata;
    const involved = {
      apiVersion: pool.apiVersion ?? KINDS.SpiderIPPool.apiVersion,
      kind: 'SpiderIPPool',
      namespace: '',
      name,
      uid,
    };
    const found = overlaps().get(name) ?? [];
    if (!found.length) return events.resolved(involved);
    for (const { pool: other, shared } of found) {
      const ranges = shared.length > 5 ? `${shared.slice(0, 5).join(',')},…` : shared.join(',');
      const message =
        `IPs ${ranges} are also in SpiderIPPool ${other}: each address is handed out by one of them only, ` +
        'but the pools must be changed so that they no longer overlap';
      if (await events.warning(involved, 'OverlappingIPPool', message))
        log.warn('pools overlap', { controller: IPPOOL_RECONCILER, pool: name, other, shared: ranges });
    }
  }

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
