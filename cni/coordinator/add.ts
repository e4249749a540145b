// ADD (docs/coordinator.md#add): wires the pod's new interface to the host and tunes the pod's routes so that replies
// leave through the interface the request came in on. Every step is idempotent, so a retried ADD works.
import { CNI_ERROR } from '../../lib/agent-api.ts';
import { CniError } from '../skel/errors.ts';
import type { Logger } from '../skel/log.ts';
import type { Family } from '../../lib/ip/index.ts';
import { familyOf, type EffectiveConfig } from './config.ts';
import { announce, prefixedMac } from './announce.ts';
import { checkGateways, findConflict, type Probed } from './detect.ts';
import { hostLength, Netns, type Route } from './iproute.ts';
import { POD_VETH, RESERVED_TABLE, resolveMode, type Resolved } from './mode.ts';
import { pinReplies } from './pinning.ts';

export const hostVethName = (containerId: string): string => `veth${containerId.slice(0, 11)}`;

/** Host interfaces whose addresses never serve to reach pods (docs/coordinator.md#host-ips). */
const IGNORED_HOST_NICS = [
  /^docker/,
  /^cbr/,
  /^dummy/,
  /^virbr/,
  /^lxcbr/,
  /^veth/,
  /^lo$/,
  /^cali/,
  /^flannel/,
  /^kube-ipvs/,
  /^cni/,
  /^vx-submariner/,
  /^cilium/,
];
const FAMILIES: Family[] = [4, 6];
const EXISTS = /File exists/;

export interface AddRequest {
  containerId: string;
  netns: string;
  ifName: string;
}

/** What detection needs beyond the pod: the interface's gateways (from prevResult) and how to set an address aside. */
export interface Detection {
  gateways: Probed[];
  setAside(ip: string, mac: string): Promise<void>;
}

export async function cmdAdd(
  req: AddRequest,
  conf: EffectiveConfig,
  log: Logger,
  detection: Detection = { gateways: [], setAside: async () => {} },
): Promise<void> {
  if (conf.mode === 'disable') return;
  const host = new Netns(undefined);
  const pod = new Netns(req.netns);
  const cur = req.ifName;

  // 1. cur UP, then the pod's shape decides the mode.
  await pod.ip(['link', 'set', cur, 'up']).catch((err: Error) => {
    throw new CniError(
      CNI_ERROR.invalidEnvironment,
      `coordinator: interface ${cur} is missing in pod netns ${req.netns}: ${err.message}`,
    );
  });
  const links = await pod.links();
  const upLinks = links.filter(
    (l) => l.ifname !== 'lo' && l.flags.includes('UP') && l.flags.includes('BROADCAST'),
  ).length;
  const resolved = resolveMode(conf.mode, {
    first: conf.podDefaultCniNic,
    cur,
    vethExists: links.some((l) => l.ifname === POD_VETH),
    upLinks,
  });
  const curAddrs = (await pod.addresses(cur)).map((a) => ({ ip: a.local, family: familyOf(a.local) }));
  const families = FAMILIES.filter((f) => curAddrs.some((a) => a.family === f));
  log.info('mode resolved', { ...resolved, families });

  // Detection first, before anything is wired: a failed ADD then leaves nothing behind but the address.
  if (conf.detectIPConflict) {
    const ownMac = (await pod.link(cur))?.address ?? '';
    const conflict = await findConflict(req.netns, cur, ownMac, curAddrs);
    if (conflict) {
      await detection.setAside(conflict.ip, conflict.mac);
      throw new CniError(
        CNI_ERROR.tryAgainLater,
        `coordinator: IP ${conflict.ip} of interface ${cur} is already in use by ${conflict.mac} on the network; the address is set aside and the next attempt gets another`,
      );
    }
  }
  if (conf.detectGateway) {
    await checkGateways(
      req.netns,
      cur,
      detection.gateways.filter((g) => families.includes(g.family)),
      log,
    );
  }

  // 3. The veth pair of an underlay pod; overlay pods reuse eth0 and its host peer, when it is a veth.
  let podVeth = POD_VETH;
  let hostVeth: string | undefined = hostVethName(req.containerId);
  if (resolved.mode === 'underlay' && resolved.firstInvoke) {
    await setupVeth(host, pod, req.netns, hostVeth, conf, families);
  } else if (resolved.mode === 'overlay') {
    podVeth = conf.podDefaultCniNic;
    hostVeth = await overlayHostPeer(host, pod, podVeth);
    if (!hostVeth)
      log.warn('the first interface has no veth peer on the host: host neighbours and host routes are skipped', {
        nic: podVeth,
      });
  }

  // 5-7. Interface and sysctl tuning.
  if (conf.txQueueLen > 0) await pod.ip(['link', 'set', cur, 'txqueuelen', String(conf.txQueueLen)]);
  if (families.includes(6)) await pod.sysctl('net.ipv6.conf.all.disable_ipv6', '0');
  if (conf.podRPFilter !== -1) await pod.sysctl('net.ipv4.conf.all.rp_filter', String(conf.podRPFilter));

  // 2. The host addresses the pod must reach through the veth.
  const hostIPs = await collectHostIPs(host, pod);
  log.info('host IPs', { hostIPs });
  const podVethMac = (await pod.link(podVeth))?.address;
  const hostVethMac = hostVeth ? (await host.link(hostVeth))?.address : undefined;

  // 8. Static neighbours, so neither side depends on ARP/NDP over the veth.
  if (hostVeth && podVethMac) {
    for (const a of curAddrs) {
      await host.ipTolerant(['neigh', 'flush', 'to', a.ip], /./);
      await host.ip(['neigh', 'replace', a.ip, 'lladdr', podVethMac, 'dev', hostVeth, 'nud', 'permanent']);
    }
  }
  if (resolved.firstInvoke && hostVethMac) {
    for (const h of hostIPs)
      await pod.ip(['neigh', 'replace', h, 'lladdr', hostVethMac, 'dev', podVeth, 'nud', 'permanent']);
  }

  // 9. The host IPs are on-link through the veth.
  const srcV4 = (await pod.addresses(conf.podDefaultCniNic)).find((a) => a.family === 'inet')?.local;
  const tables = resolved.firstInvoke ? [String(resolved.table), 'main'] : [String(resolved.table)];
  for (const h of hostIPs) {
    const family = familyOf(h);
    const src = family === 4 && srcV4 ? ['src', srcV4] : [];
    for (const table of tables)
      await pod.ip([
        `-${family}`,
        'route',
        'replace',
        `${h}/${hostLength(family)}`,
        'dev',
        podVeth,
        'scope',
        'link',
        ...src,
        'table',
        table,
      ]);
  }

  // 10. The host reaches its underlay pod through the veth, ahead of the main table.
  if (hostVeth) {
    for (const family of families) {
      const rules = await host.ip([`-${family}`, 'rule', 'show', 'priority', '1000']);
      if (!new RegExp(`lookup ${conf.hostRuleTable}\\b`).test(rules)) {
        await host.ipTolerant(
          [`-${family}`, 'rule', 'add', 'priority', '1000', 'lookup', String(conf.hostRuleTable)],
          EXISTS,
        );
      }
    }
    for (const a of curAddrs) {
      await host.ip([
        `-${a.family}`,
        'route',
        'replace',
        `${a.ip}/${hostLength(a.family)}`,
        'dev',
        hostVeth,
        'scope',
        'link',
        'table',
        String(conf.hostRuleTable),
      ]);
    }
  }

  // 11. Service, overlay pod and extra CIDRs go through the host (kube-proxy lives there).
  const hijack = [...new Set([...conf.overlayPodCIDR, ...conf.serviceCIDR, ...conf.hijackCIDR])];
  const hijackTable = resolved.firstInvoke ? 'main' : String(resolved.table);
  for (const cidr of hijack) {
    const family = familyOf(cidr);
    const via = hostIPs.find((h) => familyOf(h) === family);
    if (!via) {
      log.warn('no host IP of this family: hijack route skipped', { cidr });
      continue;
    }
    await pod.ip([`-${family}`, 'route', 'replace', cidr, 'via', via, 'dev', podVeth, 'table', hijackTable]);
  }

  // 12. Replies to what came in over veth0 go back over veth0.
  if (resolved.mode === 'underlay' && resolved.firstInvoke) {
    const via = new Map<Family, string>();
    for (const family of families) {
      const h = hostIPs.find((x) => familyOf(x) === family);
      if (h) via.set(family, h);
    }
    await pinReplies(pod, via);
  }

  // 13. Policy routing between the pod's interfaces.
  if (conf.tunePodRoutes && (!resolved.firstInvoke || resolved.mode === 'overlay')) {
    await tuneRoutes(pod, cur, resolved, conf, families, log);
  }

  // 14. Extra routes of this interface.
  const policyTable = resolved.mode === 'underlay' && resolved.firstInvoke ? 'main' : String(resolved.table);
  for (const r of conf.policyRoutes.filter((p) => families.includes(p.family))) {
    await pod.ip([`-${r.family}`, 'route', 'replace', r.dst, 'via', r.gw, 'dev', cur, 'table', policyTable]);
  }

  // 4. The MAC prefix and the announcements, last: peers learn where the addresses are once the pod can answer.
  const currentMac = (await pod.link(cur))?.address;
  const mac = (conf.podMACPrefix && prefixedMac(conf.podMACPrefix, curAddrs)) || currentMac;
  if (mac) await announce(pod, cur, mac, families, log);
}

async function setupVeth(
  host: Netns,
  pod: Netns,
  netnsPath: string,
  hostVeth: string,
  conf: EffectiveConfig,
  families: Family[],
): Promise<void> {
  // A retried ADD finds the pair from the first attempt: start over, deleting one end removes both.
  await host.ipTolerant(['link', 'del', hostVeth], /Cannot find device|does not exist/);
  const mtu = String(conf.vethMTU);
  await host.ip([
    'link',
    'add',
    hostVeth,
    'mtu',
    mtu,
    'type',
    'veth',
    'peer',
    'name',
    POD_VETH,
    'mtu',
    mtu,
    'netns',
    netnsPath,
  ]);
  await host.ip(['link', 'set', hostVeth, 'up']);
  await pod.ip(['link', 'set', POD_VETH, 'up']);
  if (conf.vethLinkAddress && !(families.length === 1 && families[0] === 6)) {
    await pod.ipTolerant(['addr', 'add', `${conf.vethLinkAddress}/32`, 'dev', POD_VETH], EXISTS);
  }
}

/** The host end of the overlay CNI's eth0, found by the peer's interface index. */
async function overlayHostPeer(host: Netns, pod: Netns, nic: string): Promise<string | undefined> {
  const link = await pod.link(nic);
  if (link?.linkinfo?.info_kind !== 'veth' || link.link_index === undefined) return undefined;
  return (await host.links()).find((l) => l.ifindex === link.link_index && l.linkinfo?.info_kind === 'veth')?.ifname;
}

/**
 * The host addresses the pod talks to: the source the host uses towards each pod IP, then every address
 * on the host's real interfaces, in interface order. Link-local addresses are left out: they are not
 * unique across interfaces.
 */
async function collectHostIPs(host: Netns, pod: Netns): Promise<string[]> {
  const out: string[] = [];
  for (const a of await pod.addresses()) {
    if (a.dev === 'lo') continue;
    const routes = await host.json<{ prefsrc?: string }>(['route', 'get', a.local]).catch(() => []);
    for (const r of routes) if (r.prefsrc) out.push(r.prefsrc);
  }
  for (const a of await host.addresses()) {
    if (!IGNORED_HOST_NICS.some((re) => re.test(a.dev))) out.push(a.local);
  }
  return [...new Set(out)];
}

async function tuneRoutes(
  pod: Netns,
  cur: string,
  resolved: Resolved,
  conf: EffectiveConfig,
  families: Family[],
  log: Logger,
): Promise<void> {
  const defaults = await Promise.all(
    FAMILIES.map(async (f) => (await pod.routes(f)).filter((r) => r.dst === 'default' && r.dev !== cur)),
  );
  const defNic = defaults.flat()[0]?.dev;
  if (!defNic) {
    log.info('no other interface holds a default route: route tuning skipped');
    return;
  }
  const table = String(resolved.table);
  const wanted = conf.podDefaultRouteNic;
  let moved = cur;
  if (wanted && wanted !== defNic) {
    if (!(await pod.link(wanted)))
      throw new CniError(CNI_ERROR.invalidNetworkConfig, `podDefaultRouteNIC: ${wanted} don't exist in pod`);
    moved = defNic;
  }
  for (const a of await pod.addresses(moved)) {
    const family = familyOf(a.local);
    await addRule(pod, family, `${a.local}/${hostLength(family)}`, table);
  }
  // The routes to the cluster (step 11) stay in main for every source address. When the default route moves
  // away from the overlay NIC, its other routes are copied, not moved: the pod still reaches the node and the
  // overlay network from any of its addresses, and only the default changes NIC.
  const hijack = new Set([...conf.overlayPodCIDR, ...conf.serviceCIDR, ...conf.hijackCIDR]);
  const onlyDefaultLeaves = moved !== cur;
  for (const family of FAMILIES) {
    for (const r of await pod.routes(family)) {
      if (r.dst === 'fe80::/64' || hijack.has(r.dst)) continue;
      if (r.nexthops) await splitMultipath(pod, family, r, moved, table);
      else if (r.dev !== moved) continue;
      else if (onlyDefaultLeaves && r.dst !== 'default') await copyRoute(pod, family, r, table);
      else await moveRoute(pod, family, r, table);
    }
  }
  if (resolved.mode === 'overlay' && resolved.firstInvoke && moved === cur) {
    const eth0 = conf.podDefaultCniNic;
    for (const a of await pod.addresses(eth0)) {
      const family = familyOf(a.local);
      await addRule(pod, family, `${a.local}/${hostLength(family)}`, String(RESERVED_TABLE));
    }
    // All of eth0's routes, not only its default: Calico's eth0 has just the default and its on-link gateway, but
    // an eth0 with a connected subnet (a macvlan cluster network) must still answer its neighbours directly.
    // Routes without a gateway go first, so that the default finds its gateway on-link.
    for (const family of FAMILIES) {
      const own = (await pod.routes(family)).filter((x) => x.dev === eth0 && !x.nexthops && x.dst !== 'fe80::/64');
      own.sort((a, b) => Number(Boolean(a.gateway)) - Number(Boolean(b.gateway)));
      for (const r of own)
        await pod.ip([`-${family}`, 'route', 'replace', ...routeArgs(r), 'table', String(RESERVED_TABLE)]);
    }
  }
}

async function addRule(pod: Netns, family: Family, from: string, table: string): Promise<void> {
  const rules = await pod.ip([`-${family}`, 'rule', 'show', 'from', from, 'table', table]);
  if (!rules.trim()) await pod.ipTolerant([`-${family}`, 'rule', 'add', 'from', from, 'lookup', table], EXISTS);
}

async function copyRoute(pod: Netns, family: Family, r: Route, table: string): Promise<void> {
  await pod.ip([`-${family}`, 'route', 'replace', ...routeArgs(r), 'table', table]);
}

/** Copies a main-table route into `table`, then deletes it from main. */
async function moveRoute(pod: Netns, family: Family, r: Route, table: string): Promise<void> {
  await copyRoute(pod, family, r, table);
  await pod.ipTolerant([`-${family}`, 'route', 'del', ...routeArgs(r), 'table', 'main'], /No such process/);
}

/**
 * IPv6 merges default routes of equal metric over several interfaces into one multipath route: the hops over
 * `moved` become routes of their own in `table` and leave main, the other hops stay.
 */
async function splitMultipath(pod: Netns, family: Family, r: Route, moved: string, table: string): Promise<void> {
  const hops = (r.nexthops ?? []).filter((h) => h.dev === moved);
  for (const [i, hop] of hops.entries()) {
    const single = { ...r, nexthops: undefined, gateway: hop.gateway, dev: hop.dev };
    await pod.ip([`-${family}`, 'route', i === 0 ? 'replace' : 'append', ...routeArgs(single), 'table', table]);
    await pod.ipTolerant([`-${family}`, 'route', 'del', ...routeArgs(single), 'table', 'main'], /No such process/);
  }
}

function routeArgs(r: Route): string[] {
  return [
    r.dst,
    ...(r.gateway ? ['via', r.gateway] : []),
    ...(r.dev ? ['dev', r.dev] : []),
    ...(r.scope && r.scope !== 'universe' ? ['scope', r.scope] : []),
    ...(r.prefsrc ? ['src', r.prefsrc] : []),
    ...(r.protocol && r.protocol !== 'boot' ? ['proto', r.protocol] : []),
    ...(r.metric !== undefined ? ['metric', String(r.metric)] : []),
  ];
}
