// Auto-created pools for third-party applications (docs/workloads.md#third-party-controllers). Spiderpool's agents
// carve these themselves; here the controller does, with the same writer as for Kubernetes workloads, so that agents
// keep their narrow rights (pool status and SpiderEndpoints only). An application is found through its pods: a pod
// asking for a subnet whose controller is a third-party kind names it. The application is read fresh (its kind is
// known only from the owner reference, so there is no cache of it); gone, its reclaimable pools are deleted.
import { CustomObjectsApi, KubernetesObjectApi, type KubernetesObject, type V1Pod } from '@kubernetes/client-node';
import { KINDS } from '../../api/v2beta1/kinds.ts';
import type { SpiderIPPool } from '../../api/v2beta1/types.ts';
import { SelectionError } from '../../ipam/selection/errors.ts';
import { orUndefined } from '../../lib/kube.ts';
import { POD } from '../kinds.ts';
import { orError } from '../or-error.ts';
import type { Key, Reconciler, ReconcilerContext, Result } from '../runtime/types.ts';
import { autoPoolRequests } from './application.ts';
import { type AutoPoolDeps, ensureAppPools, reclaimPools, warnApplication } from './auto-pool-actions.ts';
import { autoPoolCaches } from './auto-pool-view.ts';
import { AutoPoolWriter } from './ensure-auto-pool.ts';
import {
  parseThirdPartyKey,
  podsOf,
  thirdPartyApplication,
  thirdPartyKey,
  thirdPartyOfPod,
  thirdPartyOfPool,
  type ThirdPartyRef,
} from './third-party.ts';

export const THIRD_PARTY_POOL_RECONCILER = 'third-party-auto-pool';

export function createThirdPartyPoolReconciler({ caches, kubeConfig, log, events }: ReconcilerContext): Reconciler {
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const objects = KubernetesObjectApi.makeApiClient(kubeConfig);
  const view = autoPoolCaches(caches);
  const writer = new AutoPoolWriter(custom, {
    pools: () => view.pools.list(),
    reservedIPs: () => view.reservedIPs.list(),
  });
  const deps: AutoPoolDeps = {
    custom,
    writer,
    view,
    events,
    log: log.child({ reconciler: THIRD_PARTY_POOL_RECONCILER }),
  };
  const pods = caches.of<V1Pod>(POD);
  const keys = (ref: ThirdPartyRef | undefined): Key[] => (ref ? [thirdPartyKey(ref)] : []);
  return {
    name: THIRD_PARTY_POOL_RECONCILER,
    watches: [
      { kind: POD, keys: (obj: KubernetesObject) => keys(thirdPartyOfPod(obj as V1Pod)) },
      { kind: KINDS.SpiderIPPool, keys: (obj: KubernetesObject) => keys(thirdPartyOfPool(obj as SpiderIPPool)) },
      { kind: KINDS.SpiderSubnet, keys: () => [] },
      { kind: KINDS.SpiderReservedIP, keys: () => [] },
    ],
    async reconcile(key) {
      const ref = parseThirdPartyKey(key);
      if (!ref) return void deps.log.error('malformed third-party application key', { key });
      const obj = await orUndefined(
        objects.read({
          apiVersion: `${ref.group}/${ref.version}`,
          kind: ref.kind,
          metadata: { namespace: ref.namespace, name: ref.name },
        }),
      );
      if (!obj) return await reclaimPools(deps, ref);
      if (obj.metadata?.deletionTimestamp) return;
      const mine = podsOf(pods.list(ref.namespace), obj);
      const pod = mine.find((p) => !p.metadata?.deletionTimestamp) ?? mine[0];
      // Without a pod there is nothing to size by; pools already made stay until the application goes.
      if (!pod) return;
      return await serve(deps, ref, obj, pod);
    },
  };
}

async function serve(
  deps: AutoPoolDeps,
  ref: ThirdPartyRef,
  obj: KubernetesObject,
  pod: V1Pod,
): Promise<Result | void> {
  const app = orError(() => thirdPartyApplication(ref, obj, pod), SelectionError);
  const base = {
    ...ref,
    uid: obj.metadata?.uid ?? '',
    apiVersion: `${ref.group}/${ref.version}`,
    replicas: 0,
    terminating: false,
  };
  if (app instanceof SelectionError) {
    await warnApplication(deps, base, 'InvalidIPAMAnnotation', app.message, 'invalid IPAM annotation on pod', {
      pod: pod.metadata?.name,
      err: app.message,
    });
    return;
  }
  if (!app) {
    const message = `pod ${pod.metadata?.namespace}/${pod.metadata?.name} asks for an auto-created IPPool, but its controller is a third-party ${ref.kind}, whose pools can only be sized by a fixed number: set ipam.spidernet.io/ippool-ip-number to one, such as "5"`;
    await warnApplication(
      deps,
      base,
      'FixedIPNumberRequired',
      message,
      'third-party application without a fixed size',
      {
        pod: pod.metadata?.name,
      },
    );
    return;
  }
  // thirdPartyApplication has parsed the annotations already.
  return await ensureAppPools(deps, app, autoPoolRequests(app));
}
