// StatefulSet IP retention on the controller side (docs/garbage-collection.md#statefulset-retention). While a set wants
// an ordinal, the pod of that name keeps its addresses even between deletion and re-creation (the agent moves them to
// the new pod UID). When the set scales down or goes away, the addresses of the ordinals it no longer wants are freed
// and their SpiderEndpoints deleted, once no pod of that name is alive.
import type { KubernetesObject, V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import { KINDS } from '../../api/v2beta1/kinds.ts';
import type { SpiderEndpoint } from '../../api/v2beta1/types.ts';
import { statefulSetWants } from '../../ipam/owner.ts';
import { newCollector, recheckResult } from '../gc/collector.ts';
import type { GcOptions } from '../gc/options.ts';
import { POD, STATEFUL_SET } from '../kinds.ts';
import { keyOf, splitKey, type Reconciler, type ReconcilerContext } from '../runtime/types.ts';

const setOfEndpoint = (endpoint: SpiderEndpoint): string[] =>
  endpoint.status?.ownerControllerType === 'StatefulSet'
    ? [`${endpoint.metadata.namespace}/${endpoint.status.ownerControllerName}`]
    : [];

const setOfPod = (pod: V1Pod): string[] => {
  const owner = pod.metadata?.ownerReferences?.find((r) => r.controller);
  return owner?.kind === 'StatefulSet' && owner.apiVersion === 'apps/v1'
    ? [`${pod.metadata?.namespace}/${owner.name}`]
    : [];
};

export const STATEFULSET_RETENTION_RECONCILER = 'statefulset-ip-retention';

export function createStatefulSetRetention(ctx: ReconcilerContext, options: GcOptions): Reconciler {
  const name = STATEFULSET_RETENTION_RECONCILER;
  if (!options.enabled || !options.enableStatefulSet) return { name, watches: [], reconcile: async () => undefined };
  const log = ctx.log.child({ reconciler: name });
  const collector = newCollector(ctx, options, log);
  const sets = ctx.caches.of<V1StatefulSet>(STATEFUL_SET);
  const endpoints = ctx.caches.of<SpiderEndpoint>(KINDS.SpiderEndpoint);
  return {
    name,
    watches: [
      { kind: STATEFUL_SET, keys: (set) => [keyOf(set)] },
      { kind: KINDS.SpiderEndpoint, keys: (o: KubernetesObject) => setOfEndpoint(o as SpiderEndpoint) },
      { kind: POD, keys: (o: KubernetesObject) => setOfPod(o as V1Pod) },
      { kind: KINDS.SpiderIPPool, keys: () => [] },
    ],
    async reconcile(key) {
      const { namespace, name: setName } = splitKey(key);
      const set = sets.get(key);
      const dropped = endpoints
        .list(namespace)
        .filter((e) => setOfEndpoint(e)[0] === key && !statefulSetWants(set, e.metadata.name));
      let recheckAt: number | undefined;
      for (const endpoint of dropped) {
        const pass = await collector.collectPod(`${namespace}/${endpoint.metadata.name}`);
        if (pass.recheckAt !== undefined) recheckAt = Math.min(recheckAt ?? Infinity, pass.recheckAt);
      }
      if (dropped.length)
        log.debug('ordinals no longer wanted', {
          statefulSet: `${namespace}/${setName}`,
          pods: dropped.map((e) => e.metadata.name),
        });
      return recheckResult(recheckAt);
    },
  };
}
