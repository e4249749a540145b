// Inputs and outputs of pool selection. Everything is a plain object taken from the agent's caches, so
// selection itself never touches the API server.
import type { V1Namespace, V1Node, V1Pod } from '@kubernetes/client-node';
import type { SpiderIPPool } from '../../api/v2beta1/types.ts';
import type { TopController } from '../owner.ts';

export interface SelectionInput {
  pod: V1Pod;
  namespace: V1Namespace;
  node: V1Node;
  /** CNI_IFNAME of the current call. */
  ifName: string;
  /** `default_ipv4_ippool`, `default_ipv6_ippool` and `clean_gateway` of the CNI ipam config. */
  cniDefaults: { ipv4?: string[]; ipv6?: string[]; cleanGateway?: boolean };
  /** Every pool in the cluster. */
  pools: SpiderIPPool[];
  topController: TopController;
  enableIPv4: boolean;
  enableIPv6: boolean;
  /** Multus' default network `ns/name`, used for the first NIC when the pod names none. */
  multusClusterNetwork?: string;
  /** Bare `multusName` entries of pools, and a bare default network, live in this namespace. */
  installNamespace: string;
  /** `enableSpiderSubnet` of spiderpool-conf; the subnet annotations are ignored when off. Default true. */
  enableSpiderSubnet?: boolean;
  /** `enableAutoPoolForApplication` of spiderpool-conf. Default true. */
  enableAutoPoolForApplication?: boolean;
}

/** The pools to try for one NIC, per family, most specific first. An empty list means no address of that family. */
export interface NicPlan {
  nic: string;
  cleanGateway: boolean;
  ipv4: string[];
  ipv6: string[];
}

/** Which rule of docs/pool-selection.md#rules produced the candidates. */
export type SelectionRule = 'subnet' | 'ippools' | 'ippool' | 'namespace' | 'cni' | 'cluster-default';

export interface SelectionResult {
  nics: NicPlan[];
  rule: SelectionRule;
}
