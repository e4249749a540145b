// The ClusterViews served from list+watch caches. The pod webhook fails open and the agent re-checks everything
// at allocation, so a pool created a moment ago may be missing from its view without harm; what it buys is a pod
// create that reads no pool list from the apiserver. The pool and subnet webhooks read the same caches only once
// they are proven current (proven-view.ts). Waiting pods are kept as an index
// of the pools they name (pod/pending-pods.ts), not scanned on each create. Nodes and SpiderMultusConfigs
// are read on demand: only pods created with spec.nodeName need a node.
import type { KubeConfig, KubernetesObject, V1Namespace, V1Pod } from '@kubernetes/client-node';
import { ANNOTATION } from '../api/v2beta1/constants.ts';
import { KINDS } from '../api/v2beta1/kinds.ts';
import type {
  NetworkAttachmentDefinition,
  SpiderIPPool,
  SpiderReservedIP,
  SpiderSubnet,
} from '../api/v2beta1/types.ts';
import type { Logger } from '../lib/log.ts';
import { Informer } from '../lib/watch/informer.ts';
import type { Kind } from '../lib/watch/kind.ts';
import type { AdmittedWrites } from './admitted-writes.ts';
import { sharedFreshRead } from './cluster-view.ts';
import { PendingPods } from './pod/pending-pods.ts';
import { type ReadSource, createProvenView } from './proven-view.ts';
import type { ClusterView } from './types.ts';

const NAMESPACES: Kind = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };
const PENDING_PODS: Kind = {
  group: '',
  version: 'v1',
  plural: 'pods',
  kind: 'Pod',
  namespaced: true,
  fieldSelector: 'status.phase=Pending',
};

const IPAM_ANNOTATIONS = new Set<string>(Object.values(ANNOTATION));

/** What the pending-pod index reads: a burst of pending pods is held as a few hundred bytes each. */
function pendingPodProjection(obj: KubernetesObject): V1Pod {
  const pod = obj as V1Pod;
  const { name, namespace, resourceVersion, deletionTimestamp, annotations = {} } = pod.metadata ?? {};
  return {
    metadata: {
      name,
      namespace,
      resourceVersion,
      deletionTimestamp,
      annotations: Object.fromEntries(Object.entries(annotations).filter(([k]) => IPAM_ANNOTATIONS.has(k))),
    },
    status: { phase: pod.status?.phase },
  };
}

export interface CachedClusterView {
  /** The caches as they are: for the pod webhook. */
  view: ClusterView;
  /** Pools and subnets from the caches only once they hold every admitted write (proven-view.ts). */
  proven: ClusterView;
  stop(): Promise<void>;
}

/** Starts the caches. `onDemand` serves the reads that are not cached, and every read until its cache has synced. */
export function createCachedClusterView(
  kubeConfig: KubeConfig,
  log: Logger,
  onDemand: ClusterView,
  proof: { admitted: AdmittedWrites; onRead?: (source: ReadSource) => void; horizonMs?: number },
): CachedClusterView {
  const informer = <T extends KubernetesObject>(kind: Kind) => new Informer<T>({ kind, kubeConfig, log });
  const pools = informer<SpiderIPPool>(KINDS.SpiderIPPool);
  const subnets = informer<SpiderSubnet>(KINDS.SpiderSubnet);
  const reservedIPs = informer<SpiderReservedIP>(KINDS.SpiderReservedIP);
  const namespaces = informer<V1Namespace>(NAMESPACES);
  // Multus may be installed after the product: an absent CRD is an empty cache until it appears.
  const nads = informer<NetworkAttachmentDefinition>({ ...KINDS.NetworkAttachmentDefinition, optional: true });
  const pods = new Informer<V1Pod>({ kind: PENDING_PODS, kubeConfig, log, project: pendingPodProjection });
  const pending = new PendingPods();
  pods.onChange((change) => pending.set(change.key, change.after));

  const all: Pick<Informer, 'start' | 'hasSynced' | 'stop'>[] = [pools, subnets, reservedIPs, namespaces, nads, pods];
  for (const i of all) i.start();
  // Until its first list (or for good, if it cannot list), a cache gives way to the on-demand read rather than
  // holding pod creates up to the webhook's timeout.
  const cached = <T>(cache: Pick<Informer, 'hasSynced'>, read: () => T, otherwise: () => Promise<T>): Promise<T> =>
    cache.hasSynced() ? Promise.resolve(read()) : otherwise();

  const view: ClusterView = {
    listIPPools: () =>
      cached(
        pools,
        () => pools.store.list(),
        () => onDemand.listIPPools(),
      ),
    listSubnets: () =>
      cached(
        subnets,
        () => subnets.store.list(),
        () => onDemand.listSubnets(),
      ),
    listReservedIPs: () =>
      cached(
        reservedIPs,
        () => reservedIPs.store.list(),
        () => onDemand.listReservedIPs(),
      ),
    getNamespace: (name) =>
      cached(
        namespaces,
        () => namespaces.store.get(name),
        () => onDemand.getNamespace(name),
      ),
    getNetworkAttachmentDefinition: (namespace, name) =>
      cached(
        nads,
        () => nads.store.get(`${namespace}/${name}`),
        () => onDemand.getNetworkAttachmentDefinition(namespace, name),
      ),
    pendingPodsNaming: (family, poolNames) =>
      cached(
        pods,
        () => pending.naming(family, poolNames),
        () => onDemand.pendingPodsNaming(family, poolNames),
      ),
    getNode: (name) => onDemand.getNode(name),
    getSpiderMultusConfig: (namespace, name) => onDemand.getSpiderMultusConfig(namespace, name),
  };
  const proven: ClusterView = {
    ...onDemand,
    ...createProvenView({
      pools,
      subnets,
      readRecord: sharedFreshRead(() => proof.admitted.read()),
      consistent: onDemand,
      ...(proof.onRead ? { onRead: proof.onRead } : {}),
      ...(proof.horizonMs ? { horizonMs: proof.horizonMs } : {}),
    }),
  };
  return { view, proven, stop: async () => void (await Promise.all(all.map((i) => i.stop()))) };
}
