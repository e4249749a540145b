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
  WorkloadEndpointStatus,
} from '../lib/agent-api.ts';
import { IPSet, parseCIDR, parseIP, withPrefix, type Family } from '../lib/ip/index.ts';
import { apiMessage, isAlreadyExists } from '../lib/kube.ts';
import type { Logger } from '../lib/log.ts';
import type { Cluster } from './cluster.ts';
import { AgentFailure } from './errors.ts';
import type { AgentMetrics } from './metrics.ts';
import { statefulSetWants, topController, type TopController } from '../ipam/owner.ts';
import { parsePodIPAMAnnotations, selectPools, SelectionError, type NicPlan } from '../ipam/selection/index.ts';
import { AddressTaken, PoolBatcher, PoolExhausted } from './store/pool-batcher.ts';
import { poolFamily } from '../ipam/records.ts';

export interface IpamConfig {
  nodeName: string;
  installNamespace: string;
  enableIPv4: boolean;
  enableIPv6: boolean;
  enableStatefulSet: boolean;
  multusClusterNetwork?: string;
  maxRecordsPerPool?: number;
}

interface Taken {
  nic: string;
  family: Family;
  ip: string;
  pool: SpiderIPPool;
}

const required = <K extends string>(args: Record<string, unknown>, keys: readonly K[], what: string) => {
  const missing = keys.filter((k) => typeof args[k] !== 'string' || args[k] === '');
  if (missing.length) throw new AgentFailure('WrongInput', `${what}: missing or empty field(s) ${missing.join(', ')}`);
};

/** The addresses an endpoint records, without prefix length, with their pools. */
const addressesOf = (endpoint: SpiderEndpoint): { ip: string; pool: string }[] =>
  (endpoint.status?.current.ips ?? []).flatMap((e) =>
    [
      [e.ipv4, e.ipv4Pool],
      [e.ipv6, e.ipv6Pool],
    ].flatMap(([address, pool]) => (address && pool ? [{ ip: address.split('/')[0] as string, pool }] : [])),
  );

const alive = (pod: V1Pod) =>
  !pod.metadata?.deletionTimestamp && pod.status?.phase !== 'Succeeded' && pod.status?.phase !== 'Failed';

export class Ipam {
  private readonly batchers = new Map<string, PoolBatcher>();

  constructor(
    private readonly cluster: Cluster,
    private readonly config: IpamConfig,
    private readonly metrics: AgentMetrics,
    private readonly log: Logger,
  ) {}

  private batcher(pool: string): PoolBatcher {
    let b = this.batchers.get(pool);
    if (!b) {
      b = new PoolBatcher(pool, {
        client: this.cluster,
        reserved: (p) => this.reserved(poolFamily(p)),
        observer: { conflict: (name) => this.metrics.conflict(name), batch: (_name, size) => this.metrics.batch(size) },
        maxRecords: this.config.maxRecordsPerPool,
      });
      this.batchers.set(pool, b);
    }
    return b;
  }

  private reserved(family: Family): IPSet {
    let set = IPSet.empty(family);
    for (const r of this.cluster.reservedIPs()) {
      const ips = r.spec.ips ?? [];
      const version = r.spec.ipVersion ?? (ips[0]?.includes(':') ? 6 : 4);
      if (version === family) set = set.union(IPSet.fromRanges(ips, family));
    }
    return set;
  }

  async allocate(args: IpamAddArgs): Promise<IpamAddResponse> {
    required(
      args as unknown as Record<string, unknown>,
      ['containerID', 'ifName', 'netNamespace', 'podNamespace', 'podName', 'podUID'] as const,
      'IPAM ADD request',
    );
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
    const stateful = this.config.enableStatefulSet && top.kind === 'StatefulSet';
    // Only a StatefulSet pod reuses what an earlier pod of its name held, so only it reads its endpoint
    // first. For any other pod the pool records already make a repeated ADD return the same addresses,
    // and record() reconciles with an endpoint that turns out to exist.
    let endpoint = stateful ? await this.cluster.endpoint(args.podNamespace, args.podName) : undefined;
    if (
      endpoint?.status?.current.uid === args.podUID &&
      endpoint.status.current.ips.some((e) => e.interface === args.ifName)
    ) {
      return this.response(endpoint.status.current.ips);
    }

    const plans = await this.plan(args, pod, top);
    if (endpoint && endpoint.status?.current.uid !== args.podUID) {
      endpoint = await this.retain(endpoint, pod, plans);
      if (endpoint?.status?.current.ips.some((e) => e.interface === args.ifName))
        return this.response(endpoint.status.current.ips);
    }

    const known = new Set(endpoint?.status?.current.ips.map((e) => e.interface));
    const taken = await this.take(
      key,
      args.podUID,
      plans.filter((p) => !known.has(p.nic)),
    );
    // Addresses an existing endpoint already records for this pod: never given back on failure.
    const recorded = new Set<string>();
    try {
      const details = this.details(taken, plans, pod);
      endpoint = await this.record(endpoint, pod, top, stateful, details, taken, recorded);
    } catch (err) {
      await this.giveBack(
        taken.filter((t) => !recorded.has(t.ip)),
        args.podUID,
      );
      throw err instanceof AgentFailure
        ? err
        : new AgentFailure('Unavailable', `recording the SpiderEndpoint of ${key} failed: ${apiMessage(err)}`);
    }
    return this.response(endpoint.status?.current.ips ?? []);
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
        const ip = await this.batcher(name).allocate(pod, podUid, nic);
        return { nic, family, ip, pool };
      } catch (err) {
        if (!(err instanceof PoolExhausted)) throw err;
        reasons.push(err.message);
      }
    }
    throw new AgentFailure('IPUsedOut', `no IPv${family} address left for ${nic} of pod ${pod}: ${reasons.join('; ')}`);
  }

  private async giveBack(taken: Taken[], podUid: string): Promise<void> {
    await Promise.allSettled(taken.map((t) => this.batcher(t.pool.metadata.name).release(t.ip, podUid)));
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
    top: TopController,
    stateful: boolean,
    details: IPAllocationDetail[],
    taken: Taken[],
    recorded: Set<string>,
  ): Promise<SpiderEndpoint> {
    const meta = pod.metadata as { name: string; namespace: string; uid: string };
    if (existing?.status) return this.append(existing, details);
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.cluster.createEndpoint(this.newEndpoint(pod, top, stateful, details));
      } catch (err) {
        if (!isAlreadyExists(err) || attempt >= 3) throw err;
      }
      const current = await this.cluster.endpoint(meta.namespace, meta.name);
      if (!current?.status) continue;
      if (current.status.current.uid !== meta.uid) {
        await this.discard(current);
        continue;
      }
      // A repeated ADD of the same pod: keep what the endpoint records, give back anything else taken
      // for those NICs, and add the NICs it does not record yet.
      for (const address of addressesOf(current)) recorded.add(address.ip);
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
    top: TopController,
    stateful: boolean,
    details: IPAllocationDetail[],
  ): SpiderEndpoint {
    const meta = pod.metadata as { name: string; namespace: string; uid: string };
    return {
      apiVersion: KINDS.SpiderEndpoint.apiVersion,
      kind: KINDS.SpiderEndpoint.kind,
      metadata: {
        name: meta.name,
        namespace: meta.namespace,
        finalizers: [FINALIZER],
        // A StatefulSet pod's record outlives the pod so that its replacement gets the same addresses.
        ...(stateful ? {} : { ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: meta.name, uid: meta.uid }] }),
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
  private async retain(endpoint: SpiderEndpoint, pod: V1Pod, plans: NicPlan[]): Promise<SpiderEndpoint | undefined> {
    const current = endpoint.status?.current;
    const meta = pod.metadata as { name: string; namespace: string; uid: string };
    const podKey = `${meta.namespace}/${meta.name}`;
    const stillWanted = (e: IPAllocationDetail) => {
      const plan = plans.find((p) => p.nic === e.interface);
      if (!plan) return true;
      return (!e.ipv4Pool || plan.ipv4.includes(e.ipv4Pool)) && (!e.ipv6Pool || plan.ipv6.includes(e.ipv6Pool));
    };
    if (!current || !current.ips.every(stillWanted)) return this.discard(endpoint);
    const addresses = addressesOf(endpoint);
    const rebound = await Promise.allSettled(
      addresses.map(({ ip, pool }) => this.batcher(pool).rebind(ip, podKey, meta.uid)),
    );
    const failure = rebound.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) {
      if (!(failure.reason instanceof AddressTaken)) throw failure.reason;
      // An address was freed while the pod was away and another pod holds it now: start afresh.
      await Promise.all(
        addresses
          .filter((_, i) => rebound[i]!.status === 'fulfilled')
          .map(({ ip, pool }) => this.batcher(pool).release(ip, meta.uid)),
      );
      await this.cluster.deleteEndpoint(endpoint);
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

  private async releaseEndpoint(endpoint: SpiderEndpoint): Promise<void> {
    const uid = endpoint.status?.current.uid;
    if (uid) await Promise.all(addressesOf(endpoint).map(({ ip, pool }) => this.batcher(pool).release(ip, uid)));
    await this.cluster.deleteEndpoint(endpoint);
  }

  async release(args: IpamDelArgs): Promise<void> {
    required(
      args as unknown as Record<string, unknown>,
      ['containerID', 'ifName', 'podNamespace', 'podName'] as const,
      'IPAM DEL request',
    );
    // A DEL while the pod lives (kubelet re-creating the sandbox) must not free what the pod still uses.
    // A pod of this UID that the cache shows terminating stays so; anything else is read again.
    const cached = this.cluster.cachedPod(args.podNamespace, args.podName);
    const trusted = cached && cached.metadata?.uid === args.podUID && !alive(cached);
    const pod = trusted ? cached : await this.cluster.pod(args.podNamespace, args.podName);
    if (pod && alive(pod) && pod.metadata?.uid === args.podUID) return;
    const uid = args.podUID || pod?.metadata?.uid;
    if (!uid) return;
    const endpoint = await this.cluster.endpoint(args.podNamespace, args.podName);
    if (!endpoint?.status || endpoint.status.current.uid !== uid) return;
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
    await this.releaseEndpoint(endpoint);
    this.log.info('released', { pod: `${args.podNamespace}/${args.podName}`, uid });
  }

  async workloadEndpoint(namespace: string, name: string): Promise<WorkloadEndpointStatus | undefined> {
    const endpoint = await this.cluster.endpoint(namespace, name);
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
