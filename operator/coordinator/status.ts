// The SpiderCoordinator status from everything the cluster says about its CIDRs.
//
// Service CIDRs: the ServiceCIDR objects when that API exists (it always holds the "kubernetes" one),
// else kube-system/kubeadm-config, else the kube-controller-manager pod's --service-cluster-ip-range.
// Overlay pod CIDRs by spec.podCIDRType: cluster → kubeadm-config networking.podSubnet, else the
// kube-controller-manager's --cluster-cidr; calico → enabled Calico IPPools; cilium → cilium-config;
// none → none. `auto` takes the type of the default CNI found in the host's CNI directory; an operator
// without that directory (it need not run on a node) decides from the cluster instead: Calico IPPools →
// calico, else cilium-config → cilium, else cluster.
// Each list falls back on its own (kubeadm-config with only a podSubnet still gets the Service CIDR from
// the controller manager). Phase NotReady empties both lists, so nothing half-detected is served.
import type { KubernetesObject, V1ConfigMap, V1ObjectMeta, V1Pod } from '@kubernetes/client-node';
import type { SpiderCoordinatorStatus } from '../../api/v2beta1/types.ts';
import type { CalicoIPPool } from '../calico/calico-ippool.ts';
import { typeOfCni, type DefaultCni, type PodCIDRType } from './cni-config.ts';
import { controllerManagerCIDRs } from './controller-manager.ts';
import { byCreation, concatFound, firstFound, parseCIDRList, type Found } from './found.ts';
import { kubeadmCIDRs } from './kubeadm-config.ts';
import { CILIUM_CONFIG, calicoCIDRs, ciliumCIDRs, type CiliumPodIPPool } from './overlay-pools.ts';

export interface ServiceCIDR extends KubernetesObject {
  metadata?: V1ObjectMeta;
  spec?: { cidrs?: string[] };
}

export interface CoordinatorInputs {
  podCIDRType: string | undefined;
  /** Read only for `auto`. */
  defaultCni?: DefaultCni;
  kubeadmConfig?: V1ConfigMap;
  ciliumConfig?: V1ConfigMap;
  kubeSystemPods: readonly V1Pod[];
  calicoPools: readonly CalicoIPPool[];
  ciliumPodIPPools: readonly CiliumPodIPPool[];
  serviceCIDRs: readonly ServiceCIDR[];
}

export interface CoordinatorResult {
  status: SpiderCoordinatorStatus;
  /** The type used, when it could be decided. */
  type?: PodCIDRType;
  /** How `auto` was decided, and entries skipped as invalid in lists that still yielded CIDRs. */
  notes: string[];
}

const TYPES = ['auto', 'cluster', 'calico', 'cilium', 'none'];

function resolveType(
  inputs: CoordinatorInputs,
): { type: PodCIDRType; note: string; fallback?: string[] } | { error: string } {
  const t = inputs.podCIDRType;
  if (t === undefined || t === '')
    return { error: `spec.podCIDRType is not set: it must be one of ${TYPES.join(', ')}` };
  if (!TYPES.includes(t)) return { error: `spec.podCIDRType ${JSON.stringify(t)} is not one of ${TYPES.join(', ')}` };
  if (t !== 'auto') return { type: t as PodCIDRType, note: '' };
  const cni = inputs.defaultCni ?? { absent: 'no CNI configuration directory' };
  if ('error' in cni) return { error: `podCIDRType auto: ${cni.error}` };
  if ('file' in cni)
    return {
      type: typeOfCni(cni.name),
      note: `podCIDRType auto: default CNI ${JSON.stringify(cni.name)} in ${cni.file}`,
    };
  if (calicoCIDRs(inputs.calicoPools).cidrs.length > 0)
    return { type: 'calico', note: `podCIDRType auto: ${cni.absent}; Calico IPPools found` };
  if (inputs.ciliumConfig)
    return { type: 'cilium', note: `podCIDRType auto: ${cni.absent}; kube-system/${CILIUM_CONFIG} found` };
  return {
    type: 'cluster',
    note: `podCIDRType auto: ${cni.absent}, no Calico IPPool and no kube-system/${CILIUM_CONFIG}: using the cluster's pod CIDR`,
    fallback: ['no Calico IPPool', `no kube-system/${CILIUM_CONFIG}`, cni.absent],
  };
}

const notReady = (reason: string): SpiderCoordinatorStatus => ({
  phase: 'NotReady',
  reason,
  overlayPodCIDR: [],
  serviceCIDR: [],
});

export function coordinatorStatus(inputs: CoordinatorInputs): CoordinatorResult {
  const resolved = resolveType(inputs);
  if ('error' in resolved) return { status: notReady(resolved.error), notes: [] };
  const { type } = resolved;

  const kubeadm = kubeadmCIDRs(inputs.kubeadmConfig);
  const kcm = controllerManagerCIDRs(inputs.kubeSystemPods);
  const clusterPod = firstFound(kubeadm.pod, kcm.pod);
  const serviceObjects = byCreation(inputs.serviceCIDRs.filter((s) => !s.metadata?.deletionTimestamp)).map((s) =>
    parseCIDRList((s.spec?.cidrs ?? []).join(','), `ServiceCIDR ${s.metadata?.name} spec.cidrs`),
  );
  const service = firstFound(concatFound(serviceObjects), kubeadm.service, kcm.service);

  let pod: Found;
  if (type === 'cluster')
    pod = resolved.fallback ? { ...clusterPod, problems: [...clusterPod.problems, ...resolved.fallback] } : clusterPod;
  else if (type === 'calico') pod = calicoCIDRs(inputs.calicoPools);
  else if (type === 'cilium') pod = ciliumCIDRs(inputs.ciliumConfig, clusterPod, inputs.ciliumPodIPPools);
  else pod = { cidrs: [], problems: [] };

  const missing = [
    ...(type !== 'none' && pod.cidrs.length === 0 ? [`no pod CIDR found: ${pod.problems.join(', ')}`] : []),
    ...(service.cidrs.length === 0 ? [`no service CIDR found: ${service.problems.join(', ')}`] : []),
  ];
  const notes = [
    resolved.note,
    ...(pod.cidrs.length > 0 ? pod.problems : []),
    ...(service.cidrs.length > 0 ? service.problems : []),
  ].filter(Boolean);
  if (missing.length > 0) return { status: notReady(missing.join('; ')), type, notes };
  return { status: { phase: 'Synced', overlayPodCIDR: pod.cidrs, serviceCIDR: service.cidrs }, type, notes };
}
