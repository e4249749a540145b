// `kubectl spiderpool who <ip>`: the pools that cover the address, who holds it now (the pool record, the pod and
// the SpiderEndpoint that list it), and who held it before, from the agents' IPAllocated and IPReleased events.
import type { V1Pod } from '@kubernetes/client-node';
import type { SpiderEndpoint, SpiderIPPool } from '../api/v2beta1/types.ts';
import { poolFamily, readRecords } from '../ipam/records.ts';
import { reservedSet } from '../ipam/usage.ts';
import { IPSet, formatIP, parseIP } from '../lib/ip/index.ts';
import type { HistoryEntry, PluginCluster } from './cluster.ts';
import { PluginError } from './errors.ts';
import type { Report } from './output.ts';

export interface Coverage {
  pool: string;
  subnet: string;
  state: 'allocated' | 'free' | 'excluded' | 'reserved' | 'gateway' | 'unreadable';
  holder?: { pod: string; podUid: string; nic?: string; podState: string; endpoint?: string };
  problem?: string;
}

export async function who(cluster: PluginCluster, address: string): Promise<Report> {
  let ip: { family: 4 | 6; value: bigint };
  try {
    ip = parseIP(address);
  } catch {
    throw new PluginError(`"${address}" is not an IPv4 or IPv6 address`);
  }
  const canonical = formatIP(ip.value, ip.family);
  const [pools, reserved, pods, endpoints] = await Promise.all([
    cluster.pools(),
    cluster.reservedIPs(),
    cluster.pods(),
    cluster.endpoints(),
  ]);
  const covering = pools.filter((pool) => covers(pool, ip));
  const history = (await Promise.all(covering.map((p) => cluster.history(p.metadata.name))))
    .flat()
    .filter((h) => h.ip === canonical)
    .sort((a, b) => a.time.getTime() - b.time.getTime());
  const podByKey = new Map(pods.map((p) => [`${p.metadata?.namespace}/${p.metadata?.name}`, p]));
  const coverage = covering.map((pool) => coverageOf(pool, canonical, ip, reserved, podByKey, endpoints));

  const current = coverage.flatMap((c) => (c.holder ? [c.holder] : []));
  const previous = [...history]
    .reverse()
    .find((h) => h.kind === 'released' && !current.some((c) => c.podUid === h.podUid));
  const notes = [
    covering.length === 0 ? `No SpiderIPPool covers ${canonical}` : '',
    current.length === 0 && covering.length > 0 ? `${canonical} is held by no pod` : '',
    previous
      ? `Previously held by pod ${previous.pod} (uid ${previous.podUid}) until ${previous.time.toISOString()}`
      : history.length === 0 && covering.length > 0
        ? 'No allocation history (events are kept for an hour by default)'
        : '',
  ].filter((n) => n !== '');
  return {
    tables: [
      {
        headers: ['POOL', 'SUBNET', 'STATE', 'POD', 'UID', 'NIC', 'POD STATE', 'ENDPOINT'],
        rows: coverage.map((c) => [
          c.pool,
          c.subnet,
          c.state,
          c.holder?.pod ?? '',
          c.holder?.podUid ?? '',
          c.holder?.nic ?? '',
          c.holder?.podState ?? '',
          c.holder?.endpoint ?? '',
        ]),
      },
      {
        headers: ['TIME', 'EVENT', 'POOL', 'POD', 'UID', 'NIC', 'NODE'],
        rows: history.map((h) => [h.time.toISOString(), h.kind, h.pool, h.pod, h.podUid, h.nic ?? '', h.node ?? '']),
      },
    ],
    notes,
    data: {
      ip: canonical,
      pools: coverage,
      history: history.map(historyData),
      ...(previous ? { previous: historyData(previous) } : {}),
    },
    ok: true,
  };
}

const historyData = (h: HistoryEntry) => ({ ...h, time: h.time.toISOString() });

function covers(pool: SpiderIPPool, ip: { family: 4 | 6; value: bigint }): boolean {
  try {
    return poolFamily(pool) === ip.family && IPSet.fromRanges(pool.spec.ips ?? [], ip.family).contains(ip.value);
  } catch {
    return false;
  }
}

function coverageOf(
  pool: SpiderIPPool,
  canonical: string,
  ip: { family: 4 | 6; value: bigint },
  reserved: Parameters<typeof reservedSet>[0],
  pods: Map<string, V1Pod>,
  endpoints: SpiderEndpoint[],
): Coverage {
  const base = { pool: pool.metadata.name, subnet: pool.spec.subnet };
  let records;
  try {
    records = readRecords(pool).records;
  } catch (err) {
    return { ...base, state: 'unreadable', problem: err instanceof Error ? err.message : String(err) };
  }
  const record = records.get(canonical);
  if (record) {
    const pod = pods.get(record.pod);
    const podState = !pod
      ? 'gone'
      : pod.metadata?.uid !== record.podUid
        ? `replaced (uid ${pod.metadata?.uid})`
        : pod.metadata?.deletionTimestamp
          ? 'Terminating'
          : (pod.status?.phase ?? 'Unknown');
    const endpoint = endpoints.find((e) =>
      (e.status?.current.ips ?? []).some(
        (d) =>
          (d.ipv4Pool === pool.metadata.name && d.ipv4?.split('/')[0] === canonical) ||
          (d.ipv6Pool === pool.metadata.name && d.ipv6?.split('/')[0] === canonical),
      ),
    );
    return {
      ...base,
      state: 'allocated',
      holder: {
        pod: record.pod,
        podUid: record.podUid,
        ...(record.nic ? { nic: record.nic } : {}),
        podState,
        ...(endpoint ? { endpoint: `${endpoint.metadata.namespace}/${endpoint.metadata.name}` } : {}),
      },
    };
  }
  const family = ip.family;
  if (pool.spec.gateway && parseIP(pool.spec.gateway).value === ip.value) return { ...base, state: 'gateway' };
  if (IPSet.fromRanges(pool.spec.excludeIPs ?? [], family).contains(ip.value)) return { ...base, state: 'excluded' };
  if (reservedSet(reserved, family).contains(ip.value)) return { ...base, state: 'reserved' };
  return { ...base, state: 'free' };
}
