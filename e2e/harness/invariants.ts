// What must hold after any fault or churn: one address is never held twice, every running pod's addresses
// are recorded under its UID, every pool's count equals its records, and after the garbage collector has
// run nothing is held for a pod that is gone. checkInvariants reads the cluster and lists every violation.
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import type { SpiderEndpoint, SpiderIPPool } from '../../api/v2beta1/types.ts';
import { parseRecords } from '../../ipam/records.ts';
import { ENDPOINTS, POOLS } from '../../lib/spiderpool-client.ts';

export type Invariant =
  | 'address-in-two-pools'
  | 'address-in-two-endpoints'
  | 'address-of-two-running-pods'
  | 'running-pod-unrecorded'
  | 'count-differs-from-records'
  | 'record-without-live-owner'
  | 'endpoint-without-live-owner';

export interface Violation {
  invariant: Invariant;
  pool?: string;
  ip?: string;
  /** Who holds the address: `pool: ns/name (uid)` for records, `endpoint ns/name (uid)`, `pod ns/name (uid)`. */
  holders: string[];
  detail: string;
}

export interface InvariantScope {
  /** Pools to check; default every pool. */
  pools?: string[];
  /** Namespaces whose pods and SpiderEndpoints are checked; default every namespace. */
  namespaces?: string[];
  /** Also require a live owner for every record and SpiderEndpoint: call it once the collector has run. */
  afterGc?: boolean;
}

const bare = (cidr: string) => cidr.split('/')[0] ?? cidr;
const podKey = (p: V1Pod) => `${p.metadata?.namespace}/${p.metadata?.name}`;
const terminal = (p: V1Pod) => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

export async function checkInvariants(kubeConfig: KubeConfig, scope: InvariantScope = {}): Promise<Violation[]> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const inScope = (namespace: string | undefined) => !scope.namespaces || scope.namespaces.includes(namespace ?? '');
  const listPods = async () =>
    (await core.listPodForAllNamespaces()).items.filter((p) => inScope(p.metadata?.namespace));

  // A pod Running in listings taken before and after the pools were read was running throughout that read,
  // and its addresses were recorded before it ran: a missing record is then no race of the check.
  const podsBefore = await listPods();
  const pools = ((await custom.listClusterCustomObject(POOLS)) as { items: SpiderIPPool[] }).items.filter(
    (p) => !scope.pools || scope.pools.includes(p.metadata.name),
  );
  const endpoints = ((await custom.listClusterCustomObject(ENDPOINTS)) as { items: SpiderEndpoint[] }).items.filter(
    (e) => inScope(e.metadata.namespace),
  );
  const podsAfter = await listPods();

  const violations: Violation[] = [];
  const records = new Map<string, { pool: string; pod: string; podUid: string }[]>();
  for (const pool of pools) {
    const parsed = parseRecords(pool);
    for (const [ip, r] of parsed) push(records, ip, { pool: pool.metadata.name, pod: r.pod, podUid: r.podUid });
    const count = pool.status?.allocatedIPCount ?? 0;
    if (count !== parsed.size)
      violations.push({
        invariant: 'count-differs-from-records',
        pool: pool.metadata.name,
        holders: [],
        detail: `allocatedIPCount ${count}, ${parsed.size} records`,
      });
  }
  const recordHolder = (r: { pool: string; pod: string; podUid: string }) => `${r.pool}: ${r.pod} (${r.podUid})`;
  for (const [ip, held] of records)
    if (held.length > 1)
      violations.push({
        invariant: 'address-in-two-pools',
        ip,
        holders: held.map(recordHolder),
        detail: `${ip} is recorded in ${held.length} pools`,
      });

  const byEndpointIp = new Map<string, string[]>();
  for (const e of endpoints)
    for (const nic of e.status?.current?.ips ?? [])
      for (const address of [nic.ipv4, nic.ipv6])
        if (address)
          push(
            byEndpointIp,
            bare(address),
            `endpoint ${e.metadata.namespace}/${e.metadata.name} (${e.status?.current?.uid})`,
          );
  violations.push(...heldTwice(byEndpointIp, 'address-in-two-endpoints', 'SpiderEndpoints'));

  const before = new Map(podsBefore.map((p) => [p.metadata?.uid, p]));
  const running = podsAfter.filter((p) => {
    const earlier = before.get(p.metadata?.uid);
    const runs = (q: V1Pod | undefined) => q?.status?.phase === 'Running' && !q.metadata?.deletionTimestamp;
    return runs(p) && runs(earlier) && (p.status?.podIPs?.length ?? 0) > 0;
  });
  const byPodIp = new Map<string, string[]>();
  for (const pod of running) {
    const uid = pod.metadata?.uid ?? '';
    for (const { ip } of pod.status?.podIPs ?? []) {
      push(byPodIp, ip, `pod ${podKey(pod)} (${uid})`);
      const held = records.get(ip) ?? [];
      if (!held.some((r) => r.podUid === uid))
        violations.push({
          invariant: 'running-pod-unrecorded',
          ip,
          holders: held.map(recordHolder),
          detail: `${podKey(pod)} (${uid}) runs with ${ip}, which no checked pool records under its UID`,
        });
    }
  }
  violations.push(...heldTwice(byPodIp, 'address-of-two-running-pods', 'running pods'));

  if (scope.afterGc) {
    const live = new Set(podsAfter.filter((p) => !terminal(p)).map((p) => p.metadata?.uid));
    // StatefulSet pods keep their addresses across re-creation under a new UID (docs/garbage-collection.md).
    const retained = new Set(
      endpoints
        .filter((e) => e.status?.ownerControllerType === 'StatefulSet')
        .map((e) => `${e.metadata.namespace}/${e.metadata.name}`),
    );
    for (const [ip, held] of records)
      for (const r of held)
        if (inScope(r.pod.split('/')[0]) && !live.has(r.podUid) && !retained.has(r.pod))
          violations.push({
            invariant: 'record-without-live-owner',
            pool: r.pool,
            ip,
            holders: [recordHolder(r)],
            detail: `${ip} in ${r.pool} is recorded for ${r.pod} (${r.podUid}), which is gone`,
          });
    for (const e of endpoints) {
      const key = `${e.metadata.namespace}/${e.metadata.name}`;
      if (!live.has(e.status?.current?.uid) && !retained.has(key))
        violations.push({
          invariant: 'endpoint-without-live-owner',
          holders: [`endpoint ${key} (${e.status?.current?.uid})`],
          detail: `SpiderEndpoint ${key} outlives its pod`,
        });
    }
  }
  return violations;
}

/** One line per violation, for assertion messages and reports. */
export const describeViolations = (violations: Violation[]): string =>
  violations
    .map((v) => `${v.invariant}: ${v.detail}${v.holders.length ? ` [${v.holders.join('; ')}]` : ''}`)
    .join('\n');

/** A violation for every address that more than one holder has. */
function heldTwice(byIp: Map<string, string[]>, invariant: Violation['invariant'], what: string): Violation[] {
  return [...byIp]
    .filter(([, holders]) => holders.length > 1)
    .map(([ip, holders]) => ({ invariant, ip, holders, detail: `${ip} is held by ${holders.length} ${what}` }));
}
