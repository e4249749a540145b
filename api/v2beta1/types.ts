// Object types of the API. Spec and status shapes come from types.generated.ts, which is generated from
// the same schemas as the CRDs, so the code and the apiserver agree on every field.
import type { KubernetesObject, V1ObjectMeta } from '@kubernetes/client-node';
import type {
  NetworkAttachmentDefinitionSpec,
  SpiderCoordinatorStatus,
  SpiderEndpointStatus,
  SpiderIPPoolSpec,
  SpiderIPPoolStatus,
  SpiderMultusConfigSpec,
  SpiderReservedIPSpec,
  SpiderSubnetSpec,
  SpiderSubnetStatus,
  CoordinatorSpec,
} from './types.generated.ts';

export * from './types.generated.ts';

interface ApiObject extends KubernetesObject {
  metadata: V1ObjectMeta & { name: string };
}

export interface SpiderIPPool extends ApiObject {
  spec: SpiderIPPoolSpec;
  status?: SpiderIPPoolStatus;
}
export interface SpiderSubnet extends ApiObject {
  spec: SpiderSubnetSpec;
  status?: SpiderSubnetStatus;
}
export interface SpiderReservedIP extends ApiObject {
  spec: SpiderReservedIPSpec;
}
export interface SpiderEndpoint extends ApiObject {
  status?: SpiderEndpointStatus;
}
export interface SpiderMultusConfig extends ApiObject {
  spec?: SpiderMultusConfigSpec;
}
export interface SpiderCoordinator extends ApiObject {
  spec?: CoordinatorSpec;
  status?: SpiderCoordinatorStatus;
}
export interface NetworkAttachmentDefinition extends ApiObject {
  spec?: NetworkAttachmentDefinitionSpec;
}

/**
 * One record of SpiderIPPool.status.allocatedIPs, keyed by IP. `nic` is this product's addition (Spiderpool
 * ignores it): it keeps two NICs of one pod that draw from the same pool from being given one address.
 */
export interface PoolIPAllocation {
  pod: string;
  podUid: string;
  nic?: string;
}
