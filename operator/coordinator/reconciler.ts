// Keeps the `default` SpiderCoordinator's status (phase, reason, overlayPodCIDR, serviceCIDR) equal to
// what the cluster says about its CIDRs (status.ts), following every change of the sources.
//
// The operator does not create the `default` SpiderCoordinator: its spec (podCIDRType, hijackCIDR, ...)
// is the installer's choice, made once at install time (as spiderpool-init does), and re-creating it
// here would undo a deliberate deletion and race the uninstall, which deletes it before the CRDs. While
// it is missing there is nothing to reconcile.
import { CustomObjectsApi, type KubernetesObject, type V1ConfigMap, type V1Pod } from '@kubernetes/client-node';
import { DEFAULT_COORDINATOR, GROUP, VERSION } from '../../api/v2beta1/constants.ts';
import { KINDS } from '../../api/v2beta1/kinds.ts';
import type { SpiderCoordinator, SpiderCoordinatorStatus } from '../../api/v2beta1/types.ts';
import type { Kind, Reconciler, ReconcilerContext } from '../runtime/types.ts';
import { CALICO_IPPOOL, type CalicoIPPool } from '../calico/calico-ippool.ts';
import { readDefaultCni } from './cni-config.ts';
import { isControllerManager } from './controller-manager.ts';
import { KUBEADM_CONFIG } from './kubeadm-config.ts';
import { CILIUM_CONFIG, type CiliumPodIPPool } from './overlay-pools.ts';
import { coordinatorStatus, type ServiceCIDR } from './status.ts';

export const COORDINATOR_RECONCILER = 'spidercoordinator';

const KUBE_SYSTEM_CONFIGMAPS: Kind = {
  group: '',
  version: 'v1',
  plural: 'configmaps',
  kind: 'ConfigMap',
  namespaced: true,
  namespace: 'kube-system',
};
const KUBE_SYSTEM_PODS: Kind = {
  group: '',
  version: 'v1',
  plural: 'pods',
  kind: 'Pod',
  namespaced: true,
  namespace: 'kube-system',
};
const CILIUM_POD_IPPOOL: Kind = {
  group: 'cilium.io',
  version: 'v2alpha1',
  plural: 'ciliumpodippools',
  kind: 'CiliumPodIPPool',
  namespaced: false,
  optional: true,
};
// GA in Kubernetes 1.33; on older clusters the API is absent and the cache stays empty.
export const SERVICE_CIDR: Kind = {
  group: 'networking.k8s.io',
  version: 'v1',
  plural: 'servicecidrs',
  kind: 'ServiceCIDR',
  namespaced: false,
  optional: true,
};

// With `podCIDRType: auto` the host CNI directory is a source no watch sees; it is read again this often.
const CNI_DIR_RECHECK_MS = 60_000;

export interface CoordinatorOptions {
  /**
   * The host's CNI configuration directory as mounted into the operator (for `podCIDRType: auto`); default
   * /etc/cni/net.d.
   */
  cniConfigDir?: string;
}

const sameStatus = (a: SpiderCoordinatorStatus | undefined, b: SpiderCoordinatorStatus): boolean =>
  JSON.stringify([a?.phase, a?.reason ?? '', a?.overlayPodCIDR ?? [], a?.serviceCIDR ?? []]) ===
  JSON.stringify([b.phase, b.reason ?? '', b.overlayPodCIDR ?? [], b.serviceCIDR ?? []]);

export function createCoordinatorReconciler(
  { caches, kubeConfig, log }: ReconcilerContext,
  options: CoordinatorOptions,
): Reconciler {
  const cniConfigDir = options.cniConfigDir ?? '/etc/cni/net.d';
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const coordinators = caches.of<SpiderCoordinator>(KINDS.SpiderCoordinator);
  const configMaps = caches.of<V1ConfigMap>(KUBE_SYSTEM_CONFIGMAPS);
  const pods = caches.of<V1Pod>(KUBE_SYSTEM_PODS);
  const calicoPools = caches.of<CalicoIPPool>(CALICO_IPPOOL);
  const ciliumPools = caches.of<CiliumPodIPPool>(CILIUM_POD_IPPOOL);
  const serviceCIDRs = caches.of<ServiceCIDR>(SERVICE_CIDR);
  const always = (): string[] => [DEFAULT_COORDINATOR];

  return {
    name: COORDINATOR_RECONCILER,
    watches: [
      {
        kind: KINDS.SpiderCoordinator,
        keys: (o: KubernetesObject) => (o.metadata?.name === DEFAULT_COORDINATOR ? [DEFAULT_COORDINATOR] : []),
      },
      {
        kind: KUBE_SYSTEM_CONFIGMAPS,
        keys: (o: KubernetesObject) =>
          [KUBEADM_CONFIG, CILIUM_CONFIG].includes(o.metadata?.name ?? '') ? [DEFAULT_COORDINATOR] : [],
      },
      {
        kind: KUBE_SYSTEM_PODS,
        keys: (o: KubernetesObject) => (isControllerManager(o as V1Pod) ? [DEFAULT_COORDINATOR] : []),
      },
      { kind: CALICO_IPPOOL, keys: always },
      { kind: CILIUM_POD_IPPOOL, keys: always },
      { kind: SERVICE_CIDR, keys: always },
    ],

    async reconcile(key) {
      const coordinator = key === DEFAULT_COORDINATOR ? coordinators.get(key) : undefined;
      if (!coordinator) return;
      const podCIDRType = coordinator.spec?.podCIDRType;
      const auto = podCIDRType === 'auto';
      const { status, type, notes } = coordinatorStatus({
        podCIDRType,
        defaultCni: auto ? await readDefaultCni(cniConfigDir) : undefined,
        kubeadmConfig: configMaps.get(`kube-system/${KUBEADM_CONFIG}`),
        ciliumConfig: configMaps.get(`kube-system/${CILIUM_CONFIG}`),
        kubeSystemPods: pods.list(),
        calicoPools: calicoPools.list(),
        ciliumPodIPPools: ciliumPools.list(),
        serviceCIDRs: serviceCIDRs.list(),
      });
      const recheck = auto ? { requeueAfterMs: CNI_DIR_RECHECK_MS } : undefined;
      if (sameStatus(coordinator.status, status)) return recheck;
      // The cached resourceVersion travels in the body: a status written from stale sources fails with 409.
      await custom.replaceClusterCustomObjectStatus({
        group: GROUP,
        version: VERSION,
        plural: KINDS.SpiderCoordinator.plural,
        name: key,
        body: { ...coordinator, status },
      });
      log.info('SpiderCoordinator status changed', { spidercoordinator: key, podCIDRType, type, ...status, notes });
      return recheck;
    },
  };
}
