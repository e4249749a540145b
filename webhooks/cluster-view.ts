// The ClusterView of the CRD admission handlers (and of a pod refusal), served by fresh (quorum) apiserver
// reads rather than informer caches: an overlap check must see a pool created a moment ago, and a cache can
// lag behind the write the user just saw succeed. On the 1.20 apiserver neither a client informer nor the
// apiserver's watch cache can prove it has caught up (docs/admission.md#consistent-reads), so lists go to
// etcd. Concurrent requests share list calls, but only a call that started after they arrived, so sharing
// never hands out a list older than the request. Callers share the returned arrays and must not modify them.
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Namespace, type V1Node } from '@kubernetes/client-node';
import { type ApiKind, KINDS, customResource } from '../api/v2beta1/kinds.ts';
import { orUndefined, statusCode } from '../lib/kube.ts';
import { PendingPods } from './pod/pending-pods.ts';
import type { ClusterView } from './types.ts';

/** Wraps a read so that concurrent callers share one call that began after each of them asked. */
export function sharedFreshRead<T>(read: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined;
  let queued: Promise<T> | undefined;
  const start = (): Promise<T> => {
    const call = read().finally(() => {
      if (running === call) running = undefined;
    });
    running = call;
    return call;
  };
  return () => {
    if (!running) return start();
    queued ??= running
      .then(
        () => undefined,
        () => undefined,
      )
      .then(() => {
        queued = undefined;
        return start();
      });
    return queued;
  };
}

/**
 * A 1.20 apiserver under load now and then answers a quorum list with 504 "Too large resource version";
 * one more attempt succeeds, and denying the user's request for it would be wrong.
 */
async function retryServerError<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if ((statusCode(err) ?? 0) < 500) throw err;
    return read();
  }
}

// Each read takes its object type from the ClusterView member it is returned as.
export function createClusterView(kubeConfig: KubeConfig): ClusterView {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const listCRD = <T>(kind: ApiKind) =>
    sharedFreshRead(() =>
      retryServerError(
        async () => ((await custom.listClusterCustomObject(customResource(kind))) as { items: T[] }).items,
      ),
    );
  const getNamespaced =
    <T>(kind: ApiKind) =>
    (namespace: string, name: string) =>
      orUndefined(custom.getNamespacedCustomObject({ ...customResource(kind), namespace, name }) as Promise<T>);
  return {
    listIPPools: listCRD(KINDS.SpiderIPPool),
    listSubnets: listCRD(KINDS.SpiderSubnet),
    listReservedIPs: listCRD(KINDS.SpiderReservedIP),
    // From the apiserver's watch cache (resourceVersion 0): a warning may count a pod a moment late, and
    // a quorum list of every pod on each pod create would cost far more than the warning is worth.
    pendingPodsNaming: async (family, poolNames) =>
      PendingPods.of(
        (await core.listPodForAllNamespaces({ fieldSelector: 'status.phase=Pending', resourceVersion: '0' })).items,
      ).naming(family, poolNames),
    getNamespace: (name: string): Promise<V1Namespace | undefined> => orUndefined(core.readNamespace({ name })),
    getNode: (name: string): Promise<V1Node | undefined> => orUndefined(core.readNode({ name })),
    getNetworkAttachmentDefinition: getNamespaced(KINDS.NetworkAttachmentDefinition),
    getSpiderMultusConfig: getNamespaced(KINDS.SpiderMultusConfig),
  };
}
