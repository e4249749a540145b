// Calico's IPPool as stored by its CRD (crd.projectcalico.org/v1), the form Calico's own datastore
// reads in Kubernetes-datastore mode. Both the coordinator (overlay pod CIDRs) and the Calico pool
// reconciler (BGP advertisement of Spiderpool subnets) read it.
import type { KubernetesObject, V1ObjectMeta } from '@kubernetes/client-node';
import { cidrToLabelValue, parseCIDR } from '../../lib/ip/index.ts';
import type { Kind } from '../runtime/types.ts';

export const CALICO_IPPOOL: Kind = {
  group: 'crd.projectcalico.org',
  version: 'v1',
  plural: 'ippools',
  kind: 'IPPool',
  namespaced: false,
  optional: true,
};

export interface CalicoIPPoolSpec {
  cidr?: string;
  blockSize?: number;
  ipipMode?: string;
  vxlanMode?: string;
  natOutgoing?: boolean;
  nodeSelector?: string;
  disabled?: boolean;
  [field: string]: unknown;
}

export interface CalicoIPPool extends KubernetesObject {
  metadata?: V1ObjectMeta;
  spec?: CalicoIPPoolSpec;
}

/** Marks the Calico IPPools this product created; it never changes or deletes any other. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'spiderpool-ts';

export const isOwned = (pool: CalicoIPPool): boolean => pool.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY;

/** The name of the Calico IPPool that advertises a subnet: one per CIDR, derived from it alone. */
export function calicoPoolName(cidr: string): string {
  return `spiderpool-${cidrToLabelValue(parseCIDR(cidr).canonical)}`;
}
