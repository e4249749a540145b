// The cluster defaults of the `coordinator` CNI plugin (GET /v1/coordinator/config). Read fresh on every
// call: the plugin runs once per pod interface and a stale mode or CIDR list would mis-wire the pod.
import type { SpiderCoordinator } from '../api/v2beta1/types.ts';
import { ANNOTATION, DEFAULT_COORDINATOR, KUBEVIRT_MIGRATION_JOB_ANNOTATION } from '../api/v2beta1/constants.ts';
import { KINDS } from '../api/v2beta1/kinds.ts';
import type { CoordinatorConfig } from '../lib/agent-api.ts';
import type { SpiderpoolClient } from '../lib/spiderpool-client.ts';
import { collectionPath } from '../lib/watch/kind.ts';
import { AgentFailure } from './errors.ts';

const HOST_RULE_TABLE = 500;
const VETH_MTU = 1500;

export class CoordinatorConfigSource {
  /** `kubevirtStaticIP`: a live-migration target pod shares its source's addresses (enableKubevirtStaticIP). */
  constructor(
    private readonly client: Pick<SpiderpoolClient, 'get' | 'pod'>,
    private readonly kubevirtStaticIP = false,
  ) {}

  async config(podNamespace: string, podName: string): Promise<CoordinatorConfig> {
    const coordinator = await this.coordinator();
    if (!coordinator) throw new AgentFailure('CoordinatorNotFound', 'no SpiderCoordinator exists in the cluster');
    const name = coordinator.metadata.name;
    if (coordinator.status?.phase !== 'Synced') {
      const why = coordinator.status?.reason ? `: ${coordinator.status.reason}` : '';
      throw new AgentFailure(
        'Unavailable',
        `SpiderCoordinator ${name} is not Synced (phase ${coordinator.status?.phase ?? 'unset'})${why}`,
      );
    }
    const annotations = await this.annotations(podNamespace, podName);
    return {
      ...toConfig(coordinator, annotations[ANNOTATION.defaultRouteNic] || undefined),
      migrationTarget: this.kubevirtStaticIP && Boolean(annotations[KUBEVIRT_MIGRATION_JOB_ANNOTATION]),
    };
  }

  /** `default` when it exists, else the first one listed (there is normally exactly one). */
  private async coordinator(): Promise<SpiderCoordinator | undefined> {
    const kind = KINDS.SpiderCoordinator;
    const named = await this.client.get<SpiderCoordinator>(
      `${collectionPath(kind)}/${encodeURIComponent(DEFAULT_COORDINATOR)}`,
    );
    if (named) return named;
    const list = await this.client.get<{ items?: SpiderCoordinator[] }>(collectionPath(kind));
    return list?.items?.[0];
  }

  /** A pod that is already gone has no annotations to apply; the coordinator's values stand. */
  private async annotations(namespace: string, name: string): Promise<Record<string, string>> {
    const pod = await this.client.pod(namespace, name);
    return pod?.metadata?.annotations ?? {};
  }
}

function toConfig(coordinator: SpiderCoordinator, annotatedRouteNic: string | undefined): CoordinatorConfig {
  const spec = coordinator.spec ?? {};
  const status = coordinator.status ?? {};
  return {
    mode: spec.mode ?? 'auto',
    overlayPodCIDR: status.overlayPodCIDR ?? [],
    serviceCIDR: status.serviceCIDR ?? [],
    hijackCIDR: spec.hijackCIDR ?? [],
    policyRoutes: (spec.policyRoutes ?? []).map((r) => ({ dst: r.dst, gw: r.gw })),
    podMACPrefix: spec.podMACPrefix ?? '',
    tunePodRoutes: spec.tunePodRoutes ?? true,
    podDefaultRouteNIC: annotatedRouteNic ?? spec.podDefaultRouteNIC ?? '',
    vethLinkAddress: spec.vethLinkAddress ?? '',
    vethMTU: spec.vethMTU && spec.vethMTU > 0 ? spec.vethMTU : VETH_MTU,
    hostRuleTable: spec.hostRuleTable ?? HOST_RULE_TABLE,
    podRPFilter: spec.podRPFilter ?? 0,
    txQueueLen: spec.txQueueLen ?? 0,
    detectIPConflict: spec.detectIPConflict ?? false,
    detectGateway: spec.detectGateway ?? false,
  };
}
