// Allocation on CNI ADD and release on CNI DEL (docs/allocation.md). The pools' status is the source of truth for
// which address is taken; the SpiderEndpoint records which addresses a pod holds, per NIC.
import type { V1Pod } from '@kubernetes/client-node';
import type { IPAllocationDetail, SpiderEndpoint, SpiderIPPool } from '../api/v2beta1/types.ts';
import { FINALIZER } from '../api/v2beta1/constants.ts';
import { KINDS } from '../api/v2beta1/kinds.ts';
import type {
  IpamAddArgs,
  IpamAddResponse,
  IpamDelArgs,
  IpamRoute,
  IpConfig,
  IpConflictReport,
  WorkloadEndpointStatus,
} from '../lib/agent-api.ts';
import { IPSet, parseCIDR, parseIP, withPrefix, type Family } from '../lib/ip/index.ts';
import { apiMessage, isAlreadyExists, outcomeUnknown, statusCode } from '../lib/kube.ts';
import type { Logger } from '../lib/log.ts';
import type { Cluster } from './cluster.ts';
import type { AddressEvents } from './address-events.ts';
import { AgentFailure } from './errors.ts';
import { Conflicts } from './conflicts.ts';
import type { AgentMetrics, AgentRequestKind } from './metrics.ts';
import { isStatefulSet, statefulSetWants, topController, type TopController } from '../ipam/owner.ts';
import { parsePodIPAMAnnotations, selectPools, SelectionError, type NicPlan } from '../ipam/selection/index.ts';
import { interfaceNameProblem, isDns1123Label } from '../ipam/selection/names.ts';
import { AddressTaken, PoolBatcher, PoolExhausted } from './store/pool-batcher.ts';
import { vmiNameOf } from '../ipam/kubevirt.ts';
import { KubevirtVms } from './kubevirt.ts';
import { poolFamily, readRecords, usedSet } from '../ipam/records.ts';
import { reservedSet } from '../ipam/usage.ts';
import { endpointAddresses } from '../ipam/endpoint.ts';
import { heldBy } from './store/records-index.ts';

export interface IpamConfig {
  nodeName: string;
  installNamespace: string;
  enableIPv4: boolean;
  enableIPv6: boolean;
  enableStatefulSet: boolean;
  /** Pods of a KubeVirt VM keep its addresses under the VirtualMachineInstance's name (docs/workloads.md#kubevirt). */
  enableKubevirtStaticIP?: boolean;
  multusClusterNetwork?: string;
  maxRecordsPerPool?: number;
  /** The deadline of each pool read and write (the apiserver client bounds every other call). */
  apiTimeoutMs?: number;
  /** How long a request waits for its releases before it is answered (RELEASE_WAIT_MS). */
  releaseWaitMs?: number;
}

/** Well inside the 30 s the plugin waits for a DEL (cni/spiderpool/del.ts), with room for the endpoint's deletion. */
const RELEASE_WAIT_MS = 20_000;

/** True once `work` has succeeded, false when `ms` pass first; a failure within `ms` is thrown. */
async function doneWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(resolve, ms, false);
  });
  try {
    return await Promise.race([work.then(() => true as const), late]);
  } finally {
    clearTimeout(timer);
  }
}

interface Taken {
  nic: string;
  family: Family;
  ip: string;
  pool: SpiderIPPool;
  /** "namespace/name" of the pod. */
  pod: string;
  /** Taken by this request, not already held by the pod UID: only such an address is given back on failure. */
  fresh: boolean;
}

const required = <K extends string>(args: Record<string, unknown>, keys: readonly K[], what: string) => {
  const missing = keys.filter((k) => typeof args[k] !== 'string' || args[k] === '');
  if (missing.length) throw new AgentFailure('WrongInput', `${what}: missing or empty field(s) ${missing.join(', ')}`);
};

const isNames = (v: unknown) => v === undefined || (Array.isArray(v) && v.every((n) => typeof n === 'string'));

/** The request's NIC name and CNI defaults, which the plugin copies from kubelet and the CNI configuration. */
function checkAddOptions(args: IpamAddArgs): void {
  const problem = interfaceNameProblem(args.ifName);
  if (problem) throw new AgentFailure('WrongInput', `ifName ${JSON.stringify(args.ifName.slice(0, 100))} ${problem}`);
  if (!isNames(args.defaultIPv4IPPool) || !isNames(args.defaultIPv6IPPool))
    throw new AgentFailure('WrongInput', 'defaultIPv4IPPool and defaultIPv6IPPool must be arrays of pool names');
  for (const flag of ['cleanGateway', 'matchMasterSubnet'] as const) {
    if (args[flag] !== undefined && typeof args[flag] !== 'boolean')
      throw new AgentFailure('WrongInput', `${flag} must be true or false`);
  }
}

/**
 * Namespace and pod name go into apiserver paths: anything but a DNS-1123 label and subdomain (what the
 * apiserver accepts for them) is refused before it can address another resource.
 */
export function checkPodName(namespace: string, name: string): void {
  if (!isDns1123Label(namespace))
    throw new AgentFailure(
      'WrongInput',
      `podNamespace ${JSON.stringify(namespace.slice(0, 100))} is not a DNS-1123 label`,
    );
  if (name.length > 253 || !name.split('.').every(isDns1123Label))
    throw new AgentFailure('WrongInput', `podName ${JSON.stringify(name.slice(0, 300))} is not a DNS-1123 subdomain`);
}

const alive = (pod: V1Pod) =>
  !pod.metadata?.deletionTimestamp && pod.status?.phase !== 'Succeeded' && pod.status?.phase !== 'Failed';

export class Ipam {
  private readonly batchers = new Map<string, PoolBatcher>();
  /** The tail of each pod's queue of requests (oneAtATime). */
  private readonly perPod = new Map<string, Promise<void>>();
  private readonly vms: KubevirtVms;
  /** Addresses the coordinator found answered by another host (setAside). */
  readonly conflicts = new Conflicts();

  constructor(
    private readonly cluster: Cluster,
    private readonly config: IpamConfig,
    private readonly metrics: AgentMetrics,
    private readonly log: Logger,
    private readonly events?: AddressEvents,
  ) {
    this.vms = new KubevirtVms(cluster);
  }

  private batcher(pool: string): PoolBatcher {
    let b = this.batchers.get(pool);
    if (!b) {
      b = new PoolBatcher(pool, {
        client: this.cluster,
        reserved: (p) => this.reserved(poolFamily(p)),
        elsewhere: (p) => this.elsewhere(p),
        observer: {
          conflict: (name, carried) => this.metrics.conflict(name, carried),
          batch: (_name, size) => this.metrics.batch(size),
          unknown: (name, err) =>
            this.log.warn('pool read or write without an answer, re-reading', {
              pool: name,
              err: apiMessage(err),
            }),
          malformed: (name, problems) => this.reportOnce(name, problems),
        },
        maxRecords: this.config.maxRecordsPerPool,
        callTimeoutMs: this.config.apiTimeoutMs,
        watched: () => this.cluster.cachedPool(pool),
      });
      this.batchers.set(pool, b);
    }
    return b;
  }

  /** Problems already logged, so that a bad entry is reported once, not on every write of its pool. */
  private readonly reported = new Set<string>();

  private reportOnce(pool: string, problems: string[]): void {
    const fresh = problems.filter((p) => !this.reported.has(p));
    if (!fresh.length) return;
    if (this.reported.size > 10_000) this.reported.clear();
    for (const p of fresh) this.reported.add(p);
    this.log.warn('malformed allocatedIPs entries left as they are', { pool, problems: fresh });
  }

  /**
   * What the other pools covering the same addresses have recorded, from the cache. Overlapping pools can be
   * admitted together (the operator flags them); an address one of them holds is not handed out by another.
   */
  private elsewhere(pool: SpiderIPPool): IPSet {
    const family = poolFamily(pool);
    const mine = IPSet.fromRanges(pool.spec.ips ?? [], family);
    let taken = IPSet.empty(family);
    for (const other of this.cluster.pools()) {
      if (other.metadata.name === pool.metadata.name || poolFamily(other) !== family) continue;
      const theirs = this.rangesOf(other);
      // A pool whose ranges cannot be read hands out nothing.
      if (!theirs?.overlaps(mine)) continue;
      try {
        const { records, blocked } = readRecords(other);
        taken = taken.union(usedSet(family, records)).union(IPSet.fromValues(family, blocked));
      } catch {
        // Records that cannot be read at all could hold any address the two pools share.
        taken = taken.union(theirs);
      }
    }
    return taken.intersect(mine);
  }

  /**
   * A cached pool's `ips`, read once per copy of the pool the cache holds (undefined when unreadable): every write
   * attempt of every pool asks for all of them, which with 1000 pools took 5–9 ms per attempt.
   */
  private readonly poolRanges = new WeakMap<SpiderIPPool, IPSet | undefined>();

  private rangesOf(pool: SpiderIPPool): IPSet | undefined {
    if (this.poolRanges.has(pool)) return this.poolRanges.get(pool);
    let ranges: IPSet | undefined;
    try {
      ranges = IPSet.fromRanges(pool.spec.ips ?? [], poolFamily(pool));
    } catch {
      ranges = undefined;
    }
    this.poolRanges.set(pool, ranges);
    return ranges;
  }

  private reserved(family: Family): IPSet {
    return this.conflicts.set(family).union(reservedSet(this.cluster.reservedIPs(), family));
  }

  async allocate(args: IpamAddArgs): Promise<IpamAddResponse> {
    required(
      args as unknown as Record<string, unknown>,
      ['containerID', 'ifName', 'netNamespace', 'podNamespace', 'podName', 'podUID'] as const,
      'IPAM ADD request',
    );
    checkPodName(args.podNamespace, args.podName);
    checkAddOptions(args);
    return this.oneAtATime('allocate', `${args.podNamespace}/${args.podName}`, () => this.add(args));
  }

  /**
   * The requests of one pod name run one at a time. Concurrent ADDs of one pod UID share its records: one's
   * rollback would free an address the other has just answered with as already held.
   */
  private async oneAtATime<T>(kind: AgentRequestKind, pod: string, run: () => Promise<T>): Promise<T> {
    const turn = this.metrics.waiting(kind);
    const mine = (this.perPod.get(pod) ?? Promise.resolve()).then(() => {
      turn();
      return run();
    });
    const done = mine.then(
      () => undefined,
      () => undefined,
    );
    this.perPod.set(pod, done);
    try {
      return await mine;
    } finally {
      if (this.perPod.get(pod) === done) this.perPod.delete(pod);
    }
  }

  private async add(args: IpamAddArgs): Promise<IpamAddResponse> {
    const key = `${args.podNamespace}/${args.podName}`;
    const pod = await this.cluster.podWithUid(args.podNamespace, args.podName, args.podUID);
    if (!pod || pod.metadata?.uid !== args.podUID) {
      throw new AgentFailure(
        'PodNotFound',
        `pod ${key} with UID ${args.podUID} not found${pod ? ` (the pod now has UID ${pod.metadata?.uid})` : ''}`,
      );
    }
    if (!alive(pod))
      throw new AgentFailure('WrongInput', `pod ${key} is terminating or finished; no address is allocated to it`);

    const top = await topController(pod, this.cluster);
    const vmi = this.config.enableKubevirtStaticIP ? vmiNameOf(top) : undefined;
    const stateful = (this.config.enableStatefulSet && isStatefulSet(top)) || vmi !== undefined;
    // The name the endpoint and the pool records keep the addresses under: a VM's, whichever pod runs it.
    const name = vmi ?? args.podName;
    // Only a StatefulSet or VM pod reuses what an earlier pod of its name held, so only it reads its endpoint
    // first. For any other pod the pool records already make a repeated ADD return the same addresses,
    // and record() reconciles with an endpoint that turns out to exist.
    let endpoint = stateful ? await this.cluster.endpoint(args.podNamespace, name) : undefined;
    if (
      endpoint?.status?.current.uid === args.podUID &&
      endpoint.status.current.ips.some((e) => e.interface === args.ifName)
    ) {
      await this.reclaim(endpoint, args.podUID);
      return this.response(endpoint.status.current.ips);
    }

    const plans = await this.plan(args, pod, top);
    if (endpoint && endpoint.status?.current.uid !== args.podUID) {
      endpoint = await this.retain(endpoint, pod, plans, `${args.podNamespace}/${name}`);
      if (endpoint?.status?.current.ips.some((e) => e.interface === args.ifName))
        return this.response(endpoint.status.current.ips);
    }

    const known = new Set(endpoint?.status?.current.ips.map((e) => e.interface));
    const taken = await this.take(
      `${args.podNamespace}/${name}`,
      args.podUID,
      plans.filter((p) => !known.has(p.nic)),
    );
    // Addresses an existing endpoint already records for this pod: never given back on failure.
    const recorded = new Set<string>();
    try {
      const details = this.details(taken, plans, pod);
      endpoint = await this.record(endpoint, pod, name, top, stateful, details, taken, recorded);
    } catch (err) {
      // A write without an answer (timeout, lost connection, 5xx) may have been applied: the endpoint says.
      const applied = outcomeUnknown(err) ? await this.endpointAfter(err, key, args, name) : undefined;
      for (const address of applied ? endpointAddresses(applied) : []) recorded.add(address.ip);
      await this.giveBack(
        taken.filter((t) => !recorded.has(t.ip)),
        args.podUID,
      );
      if (applied?.status?.current.ips.some((e) => e.interface === args.ifName)) {
        await this.unlessOutlived(args, applied);
        return this.response(applied.status.current.ips);
      }
      if (err instanceof AgentFailure) throw err;
      // Refused for good (admission, validation): retrying the same request cannot help.
      const code = statusCode(err);
      const retry = outcomeUnknown(err) || code === 409 || code === 429;
      throw new AgentFailure(
        retry ? 'Unavailable' : 'Internal',
        `recording the SpiderEndpoint of ${key} failed: ${apiMessage(err)}`,
      );
    }
    await this.unlessOutlived(args, endpoint);
    return this.response(endpoint.status?.current.ips ?? []);
  }

  /**
   * An ADD that outlived its pod (deleted, force-deleted, while the ADD ran) must not leave an endpoint behind: the
   * garbage collector may have freed the records meanwhile, and another pod may take the addresses the endpoint
   * lists. Once the pod is known to be gone, the endpoint goes first, then whatever records of the UID remain, and the
   * ADD fails. A pod that is only terminating keeps both until its DEL. The cache answers for a pod it still shows;
   * only a pod it does not show is read again.
   */
  private async unlessOutlived(args: IpamAddArgs, endpoint: SpiderEndpoint): Promise<void> {
    const cached = this.cluster.cachedPod(args.podNamespace, args.podName);
    if (cached?.metadata?.uid === args.podUID) return;
    let pod: V1Pod | undefined;
    try {
      pod = await this.cluster.pod(args.podNamespace, args.podName);
    } catch {
      return; // unknown: the garbage collector deletes an endpoint whose pod is gone
    }
    if (pod?.metadata?.uid === args.podUID) return;
    if (endpoint.status?.current.uid === args.podUID) {
      try {
        await this.releaseEndpoint(endpoint);
      } catch (err) {
        throw new AgentFailure(
          'Unavailable',
          `pod ${args.podNamespace}/${args.podName} with UID ${args.podUID} was deleted during the ADD; freeing its endpoint failed (${apiMessage(err)}), the garbage collector frees it`,
        );
      }
    }
    throw new AgentFailure(
      'PodNotFound',
      `pod ${args.podNamespace}/${args.podName} with UID ${args.podUID} was deleted during the ADD; its addresses are freed`,
    );
  }

  /**
   * The pod's endpoint read again after a write of unknown outcome, if it records this UID. When even that read
   * fails nothing can be known, and nothing is given back: the pool records keep the addresses for this UID, so
   * a retried ADD gets them again, and the garbage collector frees them once the pod is gone.
   */
  private async endpointAfter(
    err: unknown,
    key: string,
    args: IpamAddArgs,
    name: string,
  ): Promise<SpiderEndpoint | undefined> {
    let current: SpiderEndpoint | undefined;
    try {
      current = await this.cluster.endpoint(args.podNamespace, name);
    } catch {
      throw new AgentFailure(
        'Unavailable',
        `recording the SpiderEndpoint of ${key} got no answer (${apiMessage(err)}); its addresses stay recorded`,
      );
    }
    return current?.status?.current.uid === args.podUID ? current : undefined;
  }

  /** Runs pool selection; a pool created a moment ago may not be in the cache yet, so a miss re-lists once. */
  private async plan(args: IpamAddArgs, pod: V1Pod, top: TopController): Promise<NicPlan[]> {
    const [namespace, node] = await Promise.all([
      this.cluster.namespace(args.podNamespace),
      this.cluster.node(this.config.nodeName),
    ]);
    const input = {
      pod,
      namespace,
      node,
      ifName: args.ifName,
      topController: top,
      cniDefaults: { ipv4: args.defaultIPv4IPPool, ipv6: args.defaultIPv6IPPool, cleanGateway: args.cleanGateway },
      enableIPv4: this.config.enableIPv4,
      enableIPv6: this.config.enableIPv6,
      multusClusterNetwork: this.config.multusClusterNetwork,
      installNamespace: this.config.installNamespace,
    };
    try {
      return selectPools({ ...input, pools: [...this.cluster.pools()] }).nics;
    } catch (err) {
      if (!(err instanceof SelectionError)) throw err;
      try {
        return selectPools({ ...input, pools: await this.cluster.listPools() }).nics;
      } catch (again: unknown) {
        if (again instanceof SelectionError) throw new AgentFailure(again.reason, again.message);
        throw again;
      }
    }
  }

  /** Every family of every NIC gets an address, or the call takes nothing at all. */
  private async take(pod: string, podUid: string, plans: NicPlan[]): Promise<Taken[]> {
    const wanted = plans.flatMap((plan) =>
      ([4, 6] as const)
        .map((family) => ({ nic: plan.nic, family, pools: family === 4 ? plan.ipv4 : plan.ipv6 }))
        .filter((w) => w.pools.length > 0),
    );
    const results = await Promise.allSettled(wanted.map((w) => this.takeOne(pod, podUid, w.nic, w.family, w.pools)));
    const taken = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await this.giveBack(taken, podUid);
      throw failed.reason;
    }
    return taken;
  }

  private async takeOne(pod: string, podUid: string, nic: string, family: Family, pools: string[]): Promise<Taken> {
    const reasons: string[] = [];
    for (const name of pools) {
      const pool = this.cluster.pools().find((p) => p.metadata.name === name) ?? (await this.cluster.read(name));
      try {
        const { ip, fresh } = await this.batcher(name).allocate(pod, podUid, nic);
        if (fresh) this.events?.record(name, { kind: 'allocated', ip, pod, podUid, nic });
        return { nic, family, ip, pool, pod, fresh };
      } catch (err) {
        if (!(err instanceof PoolExhausted)) throw err;
        reasons.push(err.message);
      }
    }
    throw new AgentFailure('IPUsedOut', `no IPv${family} address left for ${nic} of pod ${pod}: ${reasons.join('; ')}`);
  }

  /** Frees what this request took; an address the pod UID held before the request is never freed here. */
  private async giveBack(taken: Taken[], podUid: string): Promise<void> {
    await Promise.allSettled(
      taken.filter((t) => t.fresh).map((t) => this.free(t.pool.metadata.name, t.ip, t.pod, podUid)),
    );
  }

  /**
   * Frees the address if the UID still holds it; a freed one goes into the pool's history. A release is retried
   * until it is written, which on a pool that many agents write at once can take longer than the plugin waits
   * for an answer: after `releaseWaitMs` the request is answered and the release goes on in the pool's writer (if
   * the agent stops first, the garbage collector frees the record of a pod that is gone).
   */
  private async free(pool: string, ip: string, pod: string, podUid: string): Promise<void> {
    const released = this.batcher(pool)
      .release(ip, podUid)
      .then((freed) => {
        if (freed) this.events?.record(pool, { kind: 'released', ip, pod, podUid });
      });
    if (await doneWithin(released, this.config.releaseWaitMs ?? RELEASE_WAIT_MS)) return;
    this.metrics.releaseAfterAnswer();
    this.log.warn('release still waiting for its pool write; answered, it goes on', { pool, ip, pod, podUid });
    const after = released
      .catch((err: unknown) =>
        this.log.error('release failed after its request was answered; the garbage collector frees it', {
          pool,
          ip,
          pod,
          podUid,
          err: apiMessage(err),
        }),
      )
      .finally(() => this.releasesAfterAnswer.delete(after));
    this.releasesAfterAnswer.add(after);
  }

  /** Releases that go on after their request was answered (free). */
  private readonly releasesAfterAnswer = new Set<Promise<unknown>>();

  /**
   * Waits, up to `ms`, for the releases that went on after their answer, so that a stopping agent leaves none of them
   * to the garbage collector when the pool lets them through in time. True when none is left.
   */
  async finishReleases(ms: number): Promise<boolean> {
    if (!this.releasesAfterAnswer.size) return true;
    this.log.info('waiting for releases that went on after their answer', { count: this.releasesAfterAnswer.size });
    await doneWithin(Promise.allSettled([...this.releasesAfterAnswer]), ms);
    return this.releasesAfterAnswer.size === 0;
  }

  /**
   * A repeated ADD answers with what the pod's endpoint records, so those records must hold this UID: one that
   * went missing is restored, and one that another UID holds now fails the ADD (AddressTaken).
   */
  private async reclaim(endpoint: SpiderEndpoint, uid: string): Promise<void> {
    const pod = `${endpoint.metadata.namespace}/${endpoint.metadata.name}`;
    await Promise.all(endpointAddresses(endpoint).map(({ ip, pool }) => this.batcher(pool).rebind(ip, pod, uid, true)));
  }

  /** Per-NIC records for the endpoint: addresses with the pool's prefix, gateways and routes. */
  private details(taken: Taken[], plans: NicPlan[], pod: V1Pod): IPAllocationDetail[] {
    const customRoutes = parsePodIPAMAnnotations(pod.metadata?.annotations ?? {}).routes ?? [];
    return plans
      .filter((plan) => taken.some((t) => t.nic === plan.nic))
      .map((plan) => {
        const detail: IPAllocationDetail = { interface: plan.nic, vlan: 0, routes: [] };
        for (const t of taken.filter((x) => x.nic === plan.nic)) {
          const address = withPrefix(t.ip, t.pool.spec.subnet);
          if (t.family === 4)
            Object.assign(detail, {
              ipv4: address,
              ipv4Pool: t.pool.metadata.name,
              ...(t.pool.spec.gateway ? { ipv4Gateway: t.pool.spec.gateway } : {}),
            });
          else
            Object.assign(detail, {
              ipv6: address,
              ipv6Pool: t.pool.metadata.name,
              ...(t.pool.spec.gateway ? { ipv6Gateway: t.pool.spec.gateway } : {}),
            });
          detail.routes?.push(...(t.pool.spec.routes ?? []));
          const subnet = parseCIDR(t.pool.spec.subnet);
          for (const route of customRoutes) {
            const gw = parseIP(route.gw);
            if (gw.family === subnet.family && gw.value >= subnet.start && gw.value <= subnet.end)
              detail.routes?.push(route);
          }
        }
        if (plan.cleanGateway) detail.cleanGateway = true;
        return detail;
      });
  }

  private async record(
    existing: SpiderEndpoint | undefined,
    pod: V1Pod,
    name: string,
    top: TopController,
    stateful: boolean,
    details: IPAllocationDetail[],
    taken: Taken[],
    recorded: Set<string>,
  ): Promise<SpiderEndpoint> {
    const meta = pod.metadata as { name: string; namespace: string; uid: string };
    if (existing?.status) {
      for (const address of endpointAddresses(existing)) recorded.add(address.ip);
      await this.reclaim(existing, meta.uid);
      return this.append(existing, details);
    }
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.cluster.createEndpoint(this.newEndpoint(pod, name, top, stateful, details));
      } catch (err) {
        if (!isAlreadyExists(err) || attempt >= 3) throw err;
      }
      const current = await this.cluster.endpoint(meta.namespace, name);
      if (!current?.status) continue;
      if (current.status.current.uid !== meta.uid) {
        // Another UID's endpoint is an earlier pod's only while this request's pod is the one that exists: an ADD
        // that outlived its pod must not free the addresses of the successor that took the name.
        const live = await this.cluster.pod(meta.namespace, meta.name);
        if (live?.metadata?.uid !== meta.uid) {
          throw new AgentFailure(
            'PodNotFound',
            `pod ${meta.namespace}/${meta.name} with UID ${meta.uid} is gone; SpiderEndpoint ${name} belongs to UID ${current.status.current.uid}`,
          );
        }
        await this.discard(current);
        continue;
      }
      // A repeated ADD of the same pod: keep what the endpoint records, give back anything else taken
      // for those NICs, and add the NICs it does not record yet.
      for (const address of endpointAddresses(current)) recorded.add(address.ip);
      await this.reclaim(current, meta.uid);
      const have = new Set(current.status.current.ips.map((e) => e.interface));
      await this.giveBack(
        taken.filter((t) => have.has(t.nic) && !recorded.has(t.ip)),
        meta.uid,
      );
      const missing = details.filter((d) => !have.has(d.interface));
      return missing.length ? this.append(current, missing) : current;
    }
  }

  private append(endpoint: SpiderEndpoint, details: IPAllocationDetail[]): Promise<SpiderEndpoint> {
    const status = endpoint.status as NonNullable<SpiderEndpoint['status']>;
    return this.cluster.replaceEndpoint({
      ...endpoint,
      status: { ...status, current: { ...status.current, ips: [...status.current.ips, ...details] } },
    });
  }

  private newEndpoint(
    pod: V1Pod,
    name: string,
    top: TopController,
    stateful: boolean,
    details: IPAllocationDetail[],
  ): SpiderEndpoint {
    const meta = pod.metadata as { name: string; namespace: string; uid: string };
    return {
      apiVersion: KINDS.SpiderEndpoint.apiVersion,
      kind: KINDS.SpiderEndpoint.kind,
      metadata: {
        name,
        namespace: meta.namespace,
        // A StatefulSet or VM pod's record outlives the pod so that its replacement gets the same addresses, and the
        // finalizer keeps it until they are freed. A pod's own endpoint needs no finalizer: its records are freed by
        // pod UID whether or not the endpoint is still there, and without one a DEL deletes it in one write, not two.
        ...(stateful
          ? { finalizers: [FINALIZER] }
          : { ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: meta.name, uid: meta.uid }] }),
      },
      status: {
        current: { uid: meta.uid, node: this.config.nodeName, ips: details },
        ownerControllerType: top.kind,
        ownerControllerName: top.name,
      },
    };
  }

  /**
   * A StatefulSet pod came back with a new UID: its recorded addresses move to the new UID, unless the
   * pod's pools changed, in which case they are released and the pod allocates afresh.
   */
  private async retain(
    endpoint: SpiderEndpoint,
    pod: V1Pod,
    plans: NicPlan[],
    podKey: string,
  ): Promise<SpiderEndpoint | undefined> {
    const current = endpoint.status?.current;
    const meta = pod.metadata as { name: string; namespace: string; uid: string };
    const stillWanted = (e: IPAllocationDetail) => {
      const plan = plans.find((p) => p.nic === e.interface);
      if (!plan) return true;
      return (!e.ipv4Pool || plan.ipv4.includes(e.ipv4Pool)) && (!e.ipv6Pool || plan.ipv6.includes(e.ipv6Pool));
    };
    if (!current || !current.ips.every(stillWanted)) return this.discard(endpoint);
    const addresses = endpointAddresses(endpoint);
    const rebound = await Promise.allSettled(
      addresses.map(({ ip, pool }) => this.batcher(pool).rebind(ip, podKey, meta.uid)),
    );
    const failure = rebound.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) {
      if (!(failure.reason instanceof AddressTaken)) throw failure.reason;
      // An address was freed while the pod was away and another pod holds it now: start afresh.
      // The endpoint first, as in releaseEndpoint; a crash in between leaves records of this live UID, which the
      // retried ADD takes again.
      await this.cluster.deleteEndpoint(endpoint);
      await Promise.all(
        addresses
          .filter((_, i) => rebound[i]!.status === 'fulfilled')
          .map(({ ip, pool }) => this.free(pool, ip, podKey, meta.uid)),
      );
      return undefined;
    }
    return this.cluster.replaceEndpoint({
      ...endpoint,
      status: { ...endpoint.status!, current: { ...current, uid: meta.uid, node: this.config.nodeName } },
    });
  }

  /** The endpoint belongs to an earlier pod of the same name, which is gone: free its addresses. */
  private async discard(endpoint: SpiderEndpoint): Promise<undefined> {
    await this.releaseEndpoint(endpoint);
    return undefined;
  }

  /**
   * The endpoint goes first, then its records: an address is handed out again only once no endpoint lists it. A
   * crash or a failed write in between leaves records of a pod that is gone, which a retried DEL
   * (releaseRecordsOf) or the garbage collector frees; never an endpoint listing another pod's address.
   */
  private async releaseEndpoint(endpoint: SpiderEndpoint): Promise<void> {
    const uid = endpoint.status?.current.uid ?? '';
    const addresses = uid ? endpointAddresses(endpoint) : [];
    // Announced to each pool's writer, so that a storm of DELs joins fewer, larger writes.
    const announced = addresses.map(({ pool }) => this.batcher(pool).expectRelease());
    try {
      await this.cluster.deleteEndpoint(endpoint);
    } finally {
      for (const a of announced) a.arrived();
    }
    const pod = `${endpoint.metadata.namespace}/${endpoint.metadata.name}`;
    await Promise.all(addresses.map(({ ip, pool }) => this.free(pool, ip, pod, uid)));
  }

  /** Frees what the pools (as cached) record for this pod UID; each release checks the UID on a fresh write. */
  private async releaseRecordsOf(pod: string, uid: string): Promise<void> {
    const held = this.cluster
      .pools()
      .flatMap((pool) =>
        heldBy(pool, uid).flatMap((r) => (r.pod === pod ? [{ ip: r.ip, pool: pool.metadata.name }] : [])),
      );
    await Promise.all(held.map(({ ip, pool }) => this.free(pool, ip, pod, uid)));
  }

  /**
   * Another host answers for an address of this pod: the address is held back from every allocation of this agent
   * and the pod's addresses are freed (a StatefulSet keeps its own), so the retried ADD gets another one.
   */
  async setAside(report: IpConflictReport): Promise<void> {
    required(
      report as unknown as Record<string, unknown>,
      ['podNamespace', 'podName', 'podUID', 'ip', 'mac'] as const,
      'IP conflict report',
    );
    checkPodName(report.podNamespace, report.podName);
    if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(String(report.mac)))
      throw new AgentFailure(
        'WrongInput',
        `IP conflict report: "mac" ${JSON.stringify(report.mac)} is not a MAC address`,
      );
    try {
      parseIP(String(report.ip));
    } catch {
      throw new AgentFailure(
        'WrongInput',
        `IP conflict report: "ip" ${JSON.stringify(report.ip)} is not an IP address`,
      );
    }
    const pod = `${report.podNamespace}/${report.podName}`;
    const held = this.conflicts.hold(report.ip, report.mac);
    this.log.warn('address answered by another host, set aside', { pod, ip: held.ip, mac: report.mac });
    await this.oneAtATime('release', pod, async () => {
      const endpoint = await this.cluster.endpoint(report.podNamespace, report.podName);
      if (!endpoint?.status || endpoint.status.current.uid !== report.podUID) return;
      if (this.config.enableStatefulSet && endpoint.status.ownerControllerType === 'StatefulSet') return;
      await this.releaseEndpoint(endpoint);
    });
  }

  async release(args: IpamDelArgs): Promise<void> {
    required(
      args as unknown as Record<string, unknown>,
      ['containerID', 'ifName', 'podNamespace', 'podName'] as const,
      'IPAM DEL request',
    );
    checkPodName(args.podNamespace, args.podName);
    return this.oneAtATime('release', `${args.podNamespace}/${args.podName}`, () => this.remove(args));
  }

  private async remove(args: IpamDelArgs): Promise<void> {
    // A DEL while the pod lives (kubelet re-creating the sandbox) must not free what the pod still uses.
    // A pod of this UID that the cache shows terminating stays so, and one the watch saw deleted is gone;
    // anything else is read again. A DEL without a UID cannot tell a live pod's sandbox from an old one's, so it
    // frees nothing while a pod of that name lives.
    const cached = this.cluster.cachedPod(args.podNamespace, args.podName);
    const trusted = cached && args.podUID && cached.metadata?.uid === args.podUID && !alive(cached);
    const gone = !trusted && args.podUID ? this.cluster.deletedPod(args.podUID) : undefined;
    const pod = trusted ? cached : gone ? undefined : await this.cluster.pod(args.podNamespace, args.podName);
    if (pod && alive(pod) && (!args.podUID || pod.metadata?.uid === args.podUID)) return;
    const uid = args.podUID || pod?.metadata?.uid;
    if (!uid) return;
    const last = pod ?? gone;
    const vmi = this.config.enableKubevirtStaticIP && last ? this.vms.vmiOf(last) : undefined;
    const endpoint =
      (vmi ? undefined : this.cluster.writtenEndpoint(args.podNamespace, args.podName, uid)) ??
      (await this.cluster.endpoint(args.podNamespace, vmi ?? args.podName));
    if (!endpoint?.status || endpoint.status.current.uid !== uid) {
      // No endpoint of this UID: an earlier DEL deleted it and then failed or crashed before freeing the records,
      // or an ADD took addresses and never recorded them. What the pools still record for the UID goes.
      if (!endpoint?.status) await this.releaseRecordsOf(`${args.podNamespace}/${args.podName}`, uid);
      return;
    }
    if (
      this.config.enableStatefulSet &&
      endpoint.status.ownerControllerType === 'StatefulSet' &&
      statefulSetWants(
        await this.cluster.statefulSet(args.podNamespace, endpoint.status.ownerControllerName),
        args.podName,
      )
    ) {
      return;
    }
    if (
      this.config.enableKubevirtStaticIP &&
      (await this.vms.retains(
        args.podNamespace,
        endpoint.status.ownerControllerType,
        endpoint.status.ownerControllerName,
      ))
    )
      return;
    await this.releaseEndpoint(endpoint);
    this.log.info('released', { pod: `${args.podNamespace}/${args.podName}`, uid });
  }

  async workloadEndpoint(namespace: string, name: string): Promise<WorkloadEndpointStatus | undefined> {
    // A virt-launcher pod's addresses are recorded under its VM's name.
    const pod = this.config.enableKubevirtStaticIP
      ? (this.cluster.cachedPod(namespace, name) ?? (await this.cluster.pod(namespace, name)))
      : undefined;
    const vmi = pod ? this.vms.vmiOf(pod) : undefined;
    const endpoint = await this.cluster.endpoint(namespace, vmi ?? name);
    if (!endpoint?.status) return undefined;
    return {
      podNamespace: namespace,
      podName: name,
      podUID: endpoint.status.current.uid,
      node: endpoint.status.current.node,
      interfaces: endpoint.status.current.ips.map(
        ({ interface: nic, ipv4, ipv6, ipv4Pool, ipv6Pool, ipv4Gateway, ipv6Gateway, vlan, routes }) => ({
          interface: nic,
          ipv4,
          ipv6,
          ipv4Pool,
          ipv6Pool,
          ipv4Gateway,
          ipv6Gateway,
          vlan,
          routes,
        }),
      ),
    };
  }

  /** The CNI answer for every NIC: addresses, a default route per gateway unless cleanGateway, and routes. */
  private response(details: IPAllocationDetail[]): IpamAddResponse {
    const ips: IpConfig[] = [];
    const routes: IpamRoute[] = [];
    for (const d of details) {
      for (const [version, address, pool, gateway] of [
        [4, d.ipv4, d.ipv4Pool, d.ipv4Gateway],
        [6, d.ipv6, d.ipv6Pool, d.ipv6Gateway],
      ] as const) {
        if (!address || !pool) continue;
        ips.push({
          nic: d.interface,
          version,
          address,
          ipPool: pool,
          ...(gateway ? { gateway } : {}),
          vlan: d.vlan ?? 0,
        });
        if (gateway && !d.cleanGateway)
          routes.push({ ifName: d.interface, dst: version === 4 ? '0.0.0.0/0' : '::/0', gw: gateway });
      }
      for (const r of d.routes ?? []) routes.push({ ifName: d.interface, dst: r.dst, gw: r.gw });
    }
    return { ips, routes, dns: {} };
  }
}
