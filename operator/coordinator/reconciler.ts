// Keeps the `default` SpiderCoordinator's status (phase, reason, overlayPodCIDR, serviceCIDR) equal to
// what the cluster says about its CIDRs (status.ts), following every change of the sources.
//
// The operator does not create the `default` SpiderCoordinator: its spec (podCIDRType, hijackCIDR, ...)
// is the installer's choice, made once at install time (as spiderpool-init does), and re-creating it
// here would undo a deliberate deletion and race the uninstall, which deletes it before the CRDs. While
// it is missing there is nothing to reconcile.
import { CustomObjectsApi, type KubernetesObject, type V1ConfigMap, type V1Pod } from '@kubernetes/client-node';
import { GROUP, VERSION, type SpiderCoordinator, type SpiderCoordinatorStatus } from '../../api/v2beta1/types.ts';
import type { Kind, Reconciler, ReconcilerFactory } from '../runtime/types.ts';
import { CALICO_IPPOOL, type CalicoIPPool } from '../calico/calico-ippool.ts';
import { readDefaultCni } from './cni-config.ts';
import { isControllerManager } from './controller-manager.ts';
import { KUBEADM_CONFIG } from './kubeadm-config.ts';
import { CILIUM_CONFIG, type CiliumPodIPPool } from './overlay-pools.ts';
import { coordinatorStatus, type ServiceCIDR } from './status.ts';

export const COORDINATOR_NAME = 'default';

export const SPIDER_COORDINATOR: Kind = { group: GROUP, version: VERSION, plural: 'spidercoordinators', kind: 'SpiderCoordinator', namespaced: false };
export const KUBE_SYSTEM_CONFIGMAPS: Kind = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true, namespace: 'kube-system' };
export const KUBE_SYSTEM_PODS: Kind = { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true, namespace: 'kube-system' };
export const CILIUM_POD_IPPOOL: Kind = { group: 'cilium.io', version: 'v2alpha1', plural: 'ciliumpodippools', kind: 'CiliumPodIPPool', namespaced: false, optional: true };
// GA in Kubernetes 1.33; on older clusters the API is absent and the cache stays empty.
export const SERVICE_CIDR: Kind = { group: 'networking.k8s.io', version: 'v1', plural: 'servicecidrs', kind: 'ServiceCIDR', namespaced: false, optional: true };

// With `podCIDRType: auto` the host CNI directory is a source no watch sees; it is read again this often.
const CNI_DIR_RECHECK_MS = 60_000;

export interface CoordinatorOptions {
  /** The host's CNI configuration directory as mounted into the operator (for `podCIDRType: auto`). */
  cniConfigDir?: string;
}

const sameStatus = (a: SpiderCoordinatorStatus | undefined, b: SpiderCoordinatorStatus): boolean =>
  JSON.stringify([a?.phase, a?.reason ?? '', a?.overlayPodCIDR ?? [], a?.serviceCIDR ?? []])
  === JSON.stringify([b.phase, b.reason ?? '', b.overlayPodCIDR ?? [], b.serviceCIDR ?? []]);

export function coordinatorReconciler(options: CoordinatorOptions = {}): ReconcilerFactory {
  const cniConfigDir = options.cniConfigDir ?? '/etc/cni/net.d';
  return ({ caches, kubeConfig, log }): Reconciler => {
    const custom = kubeConfig.makeApiClient(CustomObjectsApi);
    const coordinators = caches.of<SpiderCoordinator>(SPIDER_COORDINATOR);
    const configMaps = caches.of<V1ConfigMap>(KUBE_SYSTEM_CONFIGMAPS);
    const pods = caches.of<V1Pod>(KUBE_SYSTEM_PODS);
    const calicoPools = caches.of<CalicoIPPool>(CALICO_IPPOOL);
    const ciliumPools = caches.of<CiliumPodIPPool>(CILIUM_POD_IPPOOL);
    const serviceCIDRs = caches.of<ServiceCIDR>(SERVICE_CIDR);
    const always = (): string[] => [COORDINATOR_NAME];

    return {
      name: 'spidercoordinator',
      watches: [
        { kind: SPIDER_COORDINATOR, keys: (o: KubernetesObject) => (o.metadata?.name === COORDINATOR_NAME ? [COORDINATOR_NAME] : []) },
        { kind: KUBE_SYSTEM_CONFIGMAPS, keys: (o: KubernetesObject) => ([KUBEADM_CONFIG, CILIUM_CONFIG].includes(o.metadata?.name ?? '') ? [COORDINATOR_NAME] : []) },
        { kind: KUBE_SYSTEM_PODS, keys: (o: KubernetesObject) => (isControllerManager(o as V1Pod) ? [COORDINATOR_NAME] : []) },
        { kind: CALICO_IPPOOL, keys: always },
        { kind: CILIUM_POD_IPPOOL, keys: always },
        { kind: SERVICE_CIDR, keys: always },
      ],

      async reconcile(key) {
        const coordinator = key === COORDINATOR_NAME ? coordinators.get(key) : undefined;
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
          group: GROUP, version: VERSION, plural: SPIDER_COORDINATOR.plural, name: key, body: { ...coordinator, status },
        });
        log.info('SpiderCoordinator status changed', { spidercoordinator: key, podCIDRType, type, ...status, notes });
        return recheck;
      },
    };
  };
}

/** The coordinator reconciler; `SPIDERPOOL_CNI_CONFIG_DIR` overrides the CNI directory (default /etc/cni/net.d). */
export const createCoordinatorReconciler: ReconcilerFactory = (ctx) =>
  coordinatorReconciler({ cniConfigDir: process.env.SPIDERPOOL_CNI_CONFIG_DIR || undefined })(ctx);
