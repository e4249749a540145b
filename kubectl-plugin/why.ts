// `kubectl spiderpool why <pod>`: the agent's pool selection (ipam/selection) run on what the apiserver holds for
// the pod, its namespace and its node: every candidate pool of each interface and family, in the order the rule
// lists them, why each is or is not usable, what each usable one has left, and what the agent answers.
import type { SpiderIPPool } from '../api/v2beta1/types.ts';
import { endpointAddresses } from '../ipam/endpoint.ts';
import { topController } from '../ipam/owner.ts';
import { poolFamily } from '../ipam/records.ts';
import { explainSelection, type SelectionInput } from '../ipam/selection/index.ts';
import { poolUsage, reservedSet } from '../ipam/usage.ts';
import type { PluginCluster } from './cluster.ts';
import { PluginError } from './errors.ts';
import type { Report } from './output.ts';

export interface WhyOptions {
  /** CNI_IFNAME of the call to explain. */
  ifName: string;
  /** default_ipv4_ippool and default_ipv6_ippool of the pod's CNI configuration. */
  defaultIPv4: string[];
  defaultIPv6: string[];
  /** The node to explain an unscheduled pod for. */
  node?: string;
}

export async function why(cluster: PluginCluster, podName: string, options: WhyOptions): Promise<Report> {
  const namespace = cluster.namespace;
  const pod = await cluster.readPod(namespace, podName);
  const nodeName = pod.spec?.nodeName ?? options.node;
  if (!nodeName)
    throw new PluginError(
      `pod ${namespace}/${podName} is not scheduled: pools are selected on its node; pass --node to ask for a node`,
    );
  if (options.node !== undefined && pod.spec?.nodeName !== undefined && options.node !== pod.spec.nodeName)
    throw new PluginError(`pod ${namespace}/${podName} runs on node ${pod.spec.nodeName}, not ${options.node}`);
  const [ns, node, pools, reserved, config, top, lastFailure, endpoint] = await Promise.all([
    cluster.readNamespace(namespace),
    cluster.readNode(nodeName),
    cluster.pools(),
    cluster.reservedIPs(),
    cluster.productConfig(),
    topController(pod, cluster.owners),
    cluster.sandboxFailure(pod),
    cluster.readEndpoint(namespace, podName),
  ]);
  const held = endpoint && endpoint.status?.current.uid === pod.metadata?.uid ? endpointAddresses(endpoint) : [];
  const holds = held.map((a) => `${a.ip} (${a.pool})`);
  const input: SelectionInput = {
    pod,
    namespace: ns,
    node,
    ifName: options.ifName,
    topController: top,
    cniDefaults: { ipv4: options.defaultIPv4, ipv6: options.defaultIPv6 },
    pools,
    enableIPv4: config.enableIPv4,
    enableIPv6: config.enableIPv6,
    installNamespace: config.installNamespace,
    ...(config.clusterNetwork ? { multusClusterNetwork: config.clusterNetwork } : {}),
  };
  const explanation = explainSelection(input);
  const byName = new Map(pools.map((p) => [p.metadata.name, p]));
  const free = (pool: SpiderIPPool | undefined): bigint | undefined => {
    if (!pool) return undefined;
    try {
      return poolUsage(pool, reservedSet(reserved, poolFamily(pool))).free.count();
    } catch {
      return undefined; // a pool whose ranges or records cannot be read: its refusal or the check command says why
    }
  };

  const rows: string[][] = [];
  const nics = explanation.nics.map((nic) => ({
    nic: nic.nic,
    families: nic.families.map((f) => {
      const candidates = f.candidates.map((c, i) => {
        const left = free(byName.get(c.pool));
        const tryRank = f.tryOrder.indexOf(c.pool);
        rows.push([
          nic.nic,
          `IPv${f.family}`,
          String(i + 1),
          c.pool,
          c.refused === undefined ? `yes (try ${tryRank + 1})` : 'no',
          left === undefined ? '-' : String(left),
          c.refused ?? (left === 0n ? 'usable, but no free address' : ''),
        ]);
        return { ...c, free: left };
      });
      if (f.candidates.length === 0) rows.push([nic.nic, `IPv${f.family}`, '-', '-', '-', '-', f.absent ?? '']);
      return { ...f, candidates };
    }),
  }));

  const outcome =
    'error' in explanation.outcome
      ? `${explanation.outcome.error.reason}: ${explanation.outcome.error.message}`
      : `pools chosen: ${explanation.outcome.plan
          .flatMap((p) => [
            ...(p.ipv4.length ? [`${p.nic} IPv4 ${p.ipv4.join(', ')}`] : []),
            ...(p.ipv6.length ? [`${p.nic} IPv6 ${p.ipv6.join(', ')}`] : []),
          ])
          .join('; ')}`;
  const exhausted = nics.flatMap((n) =>
    n.families
      .filter((f) => f.tryOrder.length > 0 && f.candidates.every((c) => c.refused !== undefined || c.free === 0n))
      .map((f) => `${n.nic} IPv${f.family}`),
  );
  const notes = [
    `Pod ${namespace}/${podName} ${pod.spec?.nodeName ? 'on' : 'not scheduled; asked for'} node ${nodeName}, top controller ${top.kind} ${top.namespace}/${top.name}`,
    ...(explanation.source ? [`Rule: ${explanation.source}`] : []),
    `Agent: ${outcome}`,
    ...(exhausted.length ? [`Capacity: every usable pool is full for ${exhausted.join(', ')} (IPUsedOut)`] : []),
    ...(holds.length ? [`Holds: ${holds.join(', ')}`] : []),
    ...(lastFailure ? [`Last sandbox failure: ${lastFailure}`] : []),
  ];
  return {
    tables: [{ headers: ['NIC', 'FAMILY', '#', 'POOL', 'USABLE', 'FREE', 'REASON'], rows }],
    notes,
    data: {
      pod: `${namespace}/${podName}`,
      node: nodeName,
      topController: top,
      rule: explanation.rule,
      nics,
      agent: explanation.outcome,
      holds: held,
      ...(lastFailure ? { lastSandboxFailure: lastFailure } : {}),
    },
    ok: !('error' in explanation.outcome) && exhausted.length === 0,
  };
}
