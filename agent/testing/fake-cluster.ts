// An in-memory cluster for the agent's tests: pools, pods and endpoints kept as the apiserver keeps them
// (resourceVersions, UIDs, 409 on a stale write), with faults to inject into its writes.
import { ApiException, type V1Pod } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import type { SpiderEndpoint, SpiderIPPool } from '../../api/v2beta1/types.ts';
import { ANNOTATION } from '../../api/v2beta1/constants.ts';
import type { IpamAddArgs, IpamAddResponse } from '../../lib/agent-api.ts';
import { createLogger } from '../../lib/log.ts';
import { parseRecords } from '../../ipam/records.ts';
import type { Cluster } from '../cluster.ts';
import { Ipam } from '../ipam.ts';
import { AgentMetrics } from '../metrics.ts';

export const NS = 'ns';
const NODE = 'node-1';
export const apiError = (code: number) => new ApiException(code, String(code), `{"message":"injected ${code}"}`, {});

type Fault = 'fail' | 'commit-then-fail';

/** Pools, pods and endpoints as the apiserver keeps them: resourceVersions, UIDs, 409 on a stale write. */
export class FakeCluster {
  readonly poolStore = new Map<string, SpiderIPPool>();
  readonly endpoints = new Map<string, SpiderEndpoint>();
  readonly pods = new Map<string, V1Pod>();
  /** The next endpoint creates fail, after committing or not, with this error. */
  createFaults: { fault: Fault; error: unknown }[] = [];
  /** The next pool status writes never answer, after committing or not. */
  writeFaults: ('hang' | 'commit-then-hang')[] = [];
  /** How many of the next pool status writes are refused with 409, as when another writer is always first. */
  refusedWrites = 0;
  private version = 1;

  addPool(name: string, spec: Partial<SpiderIPPool['spec']> = {}): void {
    this.poolStore.set(name, {
      apiVersion: 'spiderpool.spidernet.io/v2beta1',
      kind: 'SpiderIPPool',
      metadata: { name, resourceVersion: String(this.version++) },
      spec: { subnet: '10.6.0.0/16', ips: ['10.6.0.10-10.6.0.19'], ipVersion: 4, ...spec },
    });
  }

  addPod(name: string, pools: string[] = ['p']): V1Pod {
    const pod: V1Pod = {
      metadata: {
        name,
        namespace: NS,
        uid: `uid-${name}-${this.version++}`,
        annotations: { [ANNOTATION.ippool]: JSON.stringify({ ipv4: pools }) },
      },
      spec: { nodeName: NODE, containers: [] },
      status: { phase: 'Pending' },
    };
    this.pods.set(name, pod);
    return pod;
  }

  // Cluster's reads.
  pools = () => [...this.poolStore.values()].map((p) => structuredClone(p));
  listPools = async () => this.pools();
  reservedIPs = () => [];
  podWithUid = async (_ns: string, name: string) => this.pods.get(name);
  cachedPod = (_ns: string, name: string) => this.pods.get(name);
  /** No watch: every write starts from what the agent wrote last or from a read. */
  cachedPool = (_name: string): SpiderIPPool | undefined => undefined;
  deletedPod = (_uid: string) => undefined;
  writtenEndpoint = () => undefined;
  pod = async (_ns: string, name: string) => this.pods.get(name);
  namespace = async (name: string) => ({ metadata: { name } });
  node = async (name: string) => ({ metadata: { name } });
  replicaSet = async () => undefined;
  job = async () => undefined;
  statefulSet = async () => undefined;

  async read(name: string): Promise<SpiderIPPool> {
    const pool = this.poolStore.get(name);
    if (!pool) throw apiError(404);
    return structuredClone(pool);
  }

  /** A stored copy of the object, with the next resourceVersion, as the apiserver keeps it. */
  private stamp<T extends SpiderIPPool | SpiderEndpoint>(object: T, metadata: Partial<T['metadata']> = {}): T {
    return {
      ...structuredClone(object),
      metadata: { ...object.metadata, ...metadata, resourceVersion: String(this.version++) },
    };
  }

  async writeStatus(next: SpiderIPPool): Promise<SpiderIPPool> {
    const fault = this.writeFaults.shift();
    if (fault === 'hang') return new Promise(() => {});
    if (this.refusedWrites > 0) {
      this.refusedWrites--;
      throw apiError(409);
    }
    const current = this.poolStore.get(next.metadata.name);
    if (!current) throw apiError(404);
    if (current.metadata.resourceVersion !== next.metadata.resourceVersion) throw apiError(409);
    const stored = this.stamp(next);
    this.poolStore.set(next.metadata.name, stored);
    if (fault === 'commit-then-hang') return new Promise(() => {});
    return structuredClone(stored);
  }

  async endpoint(_ns: string, name: string): Promise<SpiderEndpoint | undefined> {
    const e = this.endpoints.get(name);
    return e && structuredClone(e);
  }

  async createEndpoint(endpoint: SpiderEndpoint): Promise<SpiderEndpoint> {
    const injected = this.createFaults.shift();
    if (injected?.fault === 'fail') throw injected.error;
    if (this.endpoints.has(endpoint.metadata.name)) throw apiError(409);
    const stored = this.stamp(endpoint, { uid: `se-${this.version}` });
    this.endpoints.set(endpoint.metadata.name, stored);
    if (injected) throw injected.error;
    return structuredClone(stored);
  }

  async replaceEndpoint(endpoint: SpiderEndpoint): Promise<SpiderEndpoint> {
    const current = this.endpoints.get(endpoint.metadata.name);
    if (!current) throw apiError(404);
    if (current.metadata.resourceVersion !== endpoint.metadata.resourceVersion) throw apiError(409);
    const stored = this.stamp(endpoint);
    this.endpoints.set(endpoint.metadata.name, stored);
    return structuredClone(stored);
  }

  async deleteEndpoint(endpoint: SpiderEndpoint): Promise<void> {
    if (this.endpoints.get(endpoint.metadata.name)?.metadata.uid === endpoint.metadata.uid)
      this.endpoints.delete(endpoint.metadata.name);
  }

  /** Another writer (another agent, the garbage collector) replaces the pool's status. */
  foreignWrite(name: string, status: SpiderIPPool['status']): void {
    const pool = this.poolStore.get(name)!;
    this.poolStore.set(name, {
      ...pool,
      metadata: { ...pool.metadata, resourceVersion: String(this.version++) },
      status,
    });
  }

  records(pool = 'p') {
    return Object.fromEntries(parseRecords(this.poolStore.get(pool)!));
  }
}

export const addArgs = (pod: V1Pod, ifName = 'eth0'): IpamAddArgs => ({
  containerID: `ctr-${pod.metadata?.uid}`,
  ifName,
  netNamespace: `/var/run/netns/${pod.metadata?.name}`,
  podNamespace: NS,
  podName: pod.metadata!.name!,
  podUID: pod.metadata!.uid!,
});

export const addressOf = (answer: IpamAddResponse) => answer.ips[0]?.address.split('/')[0];

/** An agent's Ipam on a fresh in-memory cluster with pool `p` (10.6.0.10-10.6.0.19). */
export function setup(options: { apiTimeoutMs?: number; releaseWaitMs?: number } = {}) {
  const cluster = new FakeCluster();
  cluster.addPool('p');
  const ipam = new Ipam(
    cluster as unknown as Cluster,
    {
      nodeName: NODE,
      installNamespace: 'spiderpool',
      enableIPv4: true,
      enableIPv6: false,
      enableStatefulSet: true,
      ...options,
    },
    new AgentMetrics(new Registry()),
    createLogger('agent-test', 'error'),
  );
  return { cluster, ipam };
}
