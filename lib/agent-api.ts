// The node agent's HTTP API, spoken over its unix socket by the `spiderpool` IPAM plugin. Paths and
// bodies follow Spiderpool's agent API (base path /v1) so that tooling written for it keeps working.
// Types only: the plugin bundles this file and must stay free of runtime dependencies.

export const DEFAULT_AGENT_SOCKET = '/var/run/spidernet/spiderpool.sock';

export const AGENT_PATHS = {
  healthy: '/v1/ipam/healthy',
  ip: '/v1/ipam/ip',
  workloadEndpoint: '/v1/workloadendpoint',
  coordinatorConfig: '/v1/coordinator/config',
  conflict: '/v1/ipam/conflict',
} as const;

/** POST /v1/ipam/ip */
export interface IpamAddArgs {
  containerID: string;
  ifName: string;
  netNamespace: string;
  podNamespace: string;
  podName: string;
  podUID: string;
  defaultIPv4IPPool?: string[];
  defaultIPv6IPPool?: string[];
  cleanGateway?: boolean;
  matchMasterSubnet?: boolean;
}

export interface IpConfig {
  nic: string;
  version: 4 | 6;
  /** CIDR form with the prefix length of the pool's subnet, e.g. 10.6.212.145/16. */
  address: string;
  ipPool: string;
  gateway?: string;
  vlan?: number;
}

export interface IpamRoute {
  ifName: string;
  dst: string;
  gw: string;
}

export interface IpamDns {
  domain?: string;
  nameservers?: string[];
  options?: string[];
  search?: string[];
}

/** Answer to POST /v1/ipam/ip: the addresses and routes of every NIC of the pod, not only ifName's. */
export interface IpamAddResponse {
  ips: IpConfig[];
  routes: IpamRoute[];
  dns: IpamDns;
}

/** DELETE /v1/ipam/ip */
export interface IpamDelArgs {
  containerID: string;
  ifName: string;
  netNamespace?: string;
  podNamespace: string;
  podName: string;
  podUID: string;
}

/**
 * Why a request failed. Every non-2xx answer carries `{ reason, message }`; the plugin turns the reason
 * into a CNI error code.
 */
export type AgentErrorReason =
  | 'WrongInput' // 400: malformed request or pod annotation
  | 'PodNotFound' // 404
  | 'NoAvailablePool' // 422: no candidate pool survives the filters
  | 'IPUsedOut' // 422: every candidate pool of a family is exhausted
  | 'RetriesExhausted' // 503: too many write conflicts; retrying later helps
  | 'Unavailable' // 503: the apiserver could not be reached, or the SpiderCoordinator is not Synced
  | 'CoordinatorNotFound' // 404: the cluster has no SpiderCoordinator
  | 'Internal'; // 500

export interface AgentError {
  reason: AgentErrorReason;
  message: string;
}

export const HTTP_STATUS: Record<AgentErrorReason, number> = {
  WrongInput: 400,
  PodNotFound: 404,
  NoAvailablePool: 422,
  IPUsedOut: 422,
  RetriesExhausted: 503,
  Unavailable: 503,
  CoordinatorNotFound: 404,
  Internal: 500,
};

/** CNI error codes: 1-99 are defined by the CNI spec, 100 and up belong to this plugin. */
export const CNI_ERROR = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnvironment: 4,
  ioFailure: 5,
  decodeFailure: 6,
  invalidNetworkConfig: 7,
  tryAgainLater: 11,
  poolExhausted: 100,
  agentUnreachable: 101,
  noAvailablePool: 102,
  /** The socket file is not a socket, not root's, or writable by group or others: the plugin will not connect. */
  agentSocketUntrusted: 103,
  agentInternal: 110,
} as const;

export const CNI_CODE_FOR_REASON: Record<AgentErrorReason, number> = {
  WrongInput: CNI_ERROR.invalidNetworkConfig,
  PodNotFound: CNI_ERROR.tryAgainLater,
  NoAvailablePool: CNI_ERROR.noAvailablePool,
  IPUsedOut: CNI_ERROR.poolExhausted,
  RetriesExhausted: CNI_ERROR.tryAgainLater,
  Unavailable: CNI_ERROR.tryAgainLater,
  CoordinatorNotFound: CNI_ERROR.invalidNetworkConfig,
  Internal: CNI_ERROR.agentInternal,
};

/** GET /v1/workloadendpoint?podNamespace=&podName= */
export interface WorkloadEndpointStatus {
  podNamespace: string;
  podName: string;
  podUID: string;
  node: string;
  interfaces: {
    interface: string;
    ipv4?: string;
    ipv6?: string;
    ipv4Pool?: string;
    ipv6Pool?: string;
    ipv4Gateway?: string;
    ipv6Gateway?: string;
    vlan?: number;
    routes?: { dst: string; gw: string }[];
  }[];
}

/** GET /v1/coordinator/config?podNamespace=&podName= (or the same keys in a JSON body) */
export interface CoordinatorConfigArgs {
  podNamespace: string;
  podName: string;
}

export interface CoordinatorPolicyRoute {
  dst: string;
  gw: string;
}

/**
 * The cluster defaults of the `coordinator` plugin: the SpiderCoordinator's spec and status, with
 * podDefaultRouteNIC replaced by the pod's ipam.spidernet.io/default-route-nic annotation when present.
 * Empty strings, empty lists and 0 mean "not set" for the optional knobs.
 */
export interface CoordinatorConfig {
  mode: 'auto' | 'underlay' | 'overlay' | 'disabled';
  overlayPodCIDR: string[];
  serviceCIDR: string[];
  hijackCIDR: string[];
  policyRoutes: CoordinatorPolicyRoute[];
  podMACPrefix: string;
  tunePodRoutes: boolean;
  podDefaultRouteNIC: string;
  vethLinkAddress: string;
  vethMTU: number;
  hostRuleTable: number;
  podRPFilter: number;
  txQueueLen: number;
  /** Probe each address of the interface for another owner before the pod starts (ARP probe / NDP). */
  detectIPConflict?: boolean;
  /** Check that each gateway of the interface answers ARP / NDP before the pod starts. */
  detectGateway?: boolean;
  /**
   * A KubeVirt live-migration target taking over its source's addresses: the source still answers for them, so
   * conflict detection is skipped whatever the NAD says.
   */
  migrationTarget?: boolean;
}

/**
 * POST /v1/ipam/conflict: the coordinator found another host answering for `ip`. The agent frees the pod's
 * addresses (unless a StatefulSet keeps them) and sets `ip` aside for a while, so the retried ADD gets another.
 */
export interface IpConflictReport {
  podNamespace: string;
  podName: string;
  podUID: string;
  ip: string;
  mac: string;
}
