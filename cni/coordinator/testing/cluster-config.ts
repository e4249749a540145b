// The SpiderCoordinator view the agent serves (GET /v1/coordinator/config), for tests and benchmarks that stand in
// for the agent: the CRD's defaults with nothing hijacked, overridden where a case needs it.
import type { CoordinatorConfig } from '../../../lib/agent-api.ts';

export function clusterConfig(overrides: Partial<CoordinatorConfig> = {}): CoordinatorConfig {
  return {
    mode: 'auto',
    overlayPodCIDR: [],
    serviceCIDR: [],
    hijackCIDR: [],
    policyRoutes: [],
    podMACPrefix: '',
    tunePodRoutes: true,
    podDefaultRouteNIC: '',
    vethLinkAddress: '',
    vethMTU: 1500,
    hostRuleTable: 500,
    podRPFilter: 0,
    txQueueLen: 0,
    ...overrides,
  };
}
