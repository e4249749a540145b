// Overlay pod CIDRs from the default CNI's own pools: Calico IPPools, or Cilium's configuration.
import type { KubernetesObject, V1ConfigMap, V1ObjectMeta } from '@kubernetes/client-node';
import { isOwned, type CalicoIPPool } from '../calico/calico-ippool.ts';
import { byCreation, concatFound, nothing, parseCIDRList, type Found } from './found.ts';

export const CILIUM_CONFIG = 'cilium-config';

export interface CiliumPodIPPool extends KubernetesObject {
  metadata?: V1ObjectMeta;
  spec?: { ipv4?: { cidrs?: string[] }; ipv6?: { cidrs?: string[] } };
}

const NO_CALICO_POOL = 'no enabled Calico IPPool (crd.projectcalico.org/v1)';

/**
 * Enabled Calico IPPools, oldest first. Pools this product created to advertise Spiderpool subnets over
 * BGP hold underlay addresses, not overlay ones, so they are not overlay pod CIDRs.
 */
export function calicoCIDRs(pools: readonly CalicoIPPool[]): Found {
  const live = byCreation(pools.filter((p) => !p.metadata?.deletionTimestamp && !p.spec?.disabled && !isOwned(p)));
  return concatFound(
    live.map((p) => parseCIDRList(p.spec?.cidr ?? '', `Calico IPPool ${p.metadata?.name} spec.cidr`)),
    NO_CALICO_POOL,
  );
}

const CLUSTER_POOL_MODES = ['cluster-pool', 'cluster-pool-v2beta'];

/**
 * Cilium's pod CIDRs by its IPAM mode (`data.ipam`; Cilium's default when unset is cluster-pool).
 * `clusterPod` are the Kubernetes pod CIDRs, which Cilium uses in `kubernetes` mode.
 */
export function ciliumCIDRs(
  cm: V1ConfigMap | undefined,
  clusterPod: Found,
  podIPPools: readonly CiliumPodIPPool[],
): Found {
  const where = `kube-system/${CILIUM_CONFIG}`;
  if (!cm) return nothing(`${where} not found`);
  const ipam = cm.data?.ipam || 'cluster-pool';
  if (CLUSTER_POOL_MODES.includes(ipam)) {
    const keys = ['cluster-pool-ipv4-cidr', 'cluster-pool-ipv6-cidr'];
    const places = keys.filter((k) => cm.data?.[k]).map((k) => parseCIDRList(cm.data![k]!, `${where} ${k}`));
    return concatFound(places, `${where} has no ${keys.join(' or ')}`);
  }
  if (ipam === 'multi-pool') {
    const places = byCreation(podIPPools.filter((p) => !p.metadata?.deletionTimestamp)).flatMap((p) => [
      parseCIDRList((p.spec?.ipv4?.cidrs ?? []).join(','), `CiliumPodIPPool ${p.metadata?.name} spec.ipv4.cidrs`),
      parseCIDRList((p.spec?.ipv6?.cidrs ?? []).join(','), `CiliumPodIPPool ${p.metadata?.name} spec.ipv6.cidrs`),
    ]);
    return concatFound(places, `no CiliumPodIPPool (cilium.io/v2alpha1) for ${where} ipam multi-pool`);
  }
  if (ipam === 'kubernetes') return clusterPod;
  return nothing(
    `${where} ipam ${JSON.stringify(ipam)} is not supported (supported: ${[...CLUSTER_POOL_MODES, 'multi-pool', 'kubernetes'].join(', ')})`,
  );
}
