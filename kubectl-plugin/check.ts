// `kubectl spiderpool check`: an audit of the allocation records against the pods and SpiderEndpoints, like
// `calicoctl ipam check`. Every problem names its object; any problem makes the exit code 1. An ADD or DEL in
// flight can show for a moment as a record without an endpoint, or the other way round: check again to tell.
import { endpointAddresses } from '../ipam/endpoint.ts';
import { poolFamily } from '../ipam/records.ts';
import { IPSet, parseIP } from '../lib/ip/index.ts';
import type { PluginCluster } from './cluster.ts';
import { objectKey, readInventory, type Inventory } from './inventory.ts';
import type { Report } from './output.ts';

export interface Problem {
  object: string;
  problem: string;
}

const count = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;

export async function check(cluster: PluginCluster): Promise<Report> {
  const inventory = await readInventory(cluster);
  const problems = [...poolProblems(inventory), ...recordProblems(inventory), ...endpointProblems(inventory)];
  const counts = {
    pools: inventory.pools.length,
    records: inventory.records.length,
    endpoints: inventory.endpoints.length,
    problems: problems.length,
  };
  return {
    tables: [{ headers: ['OBJECT', 'PROBLEM'], rows: problems.map((p) => [p.object, p.problem]) }],
    notes: [
      `${count(counts.pools, 'pool')}, ${count(counts.records, 'record')}, ${count(counts.endpoints, 'endpoint')}: ` +
        (problems.length === 0 ? 'no problems' : count(problems.length, 'problem')),
    ],
    data: { counts, problems },
    ok: problems.length === 0,
  };
}

function poolProblems({ pools }: Inventory): Problem[] {
  const problems: Problem[] = [];
  const holders = new Map<string, string[]>();
  for (const { pool, read, error } of pools) {
    const object = `SpiderIPPool ${pool.metadata.name}`;
    if (!read) {
      problems.push({ object, problem: error ?? 'status.allocatedIPs is unreadable' });
      continue;
    }
    for (const p of read.problems) problems.push({ object, problem: p.replace(`${object}: `, '') });
    const count = pool.status?.allocatedIPCount ?? 0;
    if (count !== read.records.size)
      problems.push({
        object,
        problem: `status.allocatedIPCount is ${count}, but allocatedIPs holds ${read.records.size} records`,
      });
    let ips: IPSet | undefined;
    try {
      ips = IPSet.fromRanges(pool.spec.ips ?? [], poolFamily(pool));
    } catch (err) {
      problems.push({ object, problem: `spec.ips is unreadable: ${err instanceof Error ? err.message : String(err)}` });
    }
    for (const ip of read.records.keys()) {
      if (ips && !ips.contains(parseIP(ip).value))
        problems.push({ object, problem: `records ${ip}, which is not in spec.ips` });
      holders.set(ip, [...(holders.get(ip) ?? []), pool.metadata.name]);
    }
  }
  for (const [ip, names] of holders) {
    if (names.length > 1)
      problems.push({ object: `IP ${ip}`, problem: `recorded by ${names.length} pools: ${names.join(', ')}` });
  }
  return problems;
}

function recordProblems(inventory: Inventory): Problem[] {
  return inventory.records.flatMap((record): Problem[] => {
    const object = `SpiderIPPool ${record.pool} ${record.ip}`;
    const decision = inventory.decideRecord(record);
    if (decision.action === 'release') {
      const pod = inventory.pods.get(record.pod);
      const now = pod ? `pod ${record.pod} now has UID ${pod.metadata?.uid}` : `pod ${record.pod} does not exist`;
      return [
        {
          object,
          problem: `leaked: recorded for pod ${record.pod} UID ${record.podUid}, but ${now} (${decision.reason}; the garbage collector frees it)`,
        },
      ];
    }
    if (decision.reason !== 'PodAlive') return [];
    const endpoint = inventory.observed(record.pod).endpoint;
    const where = `SpiderEndpoint ${record.pod}`;
    if (!endpoint) return [{ object, problem: `recorded for running pod ${record.pod}, but ${where} does not exist` }];
    if (endpoint.status?.current.uid !== record.podUid)
      return [
        {
          object,
          problem: `recorded for pod ${record.pod} UID ${record.podUid}, but ${where} is UID ${endpoint.status?.current.uid}`,
        },
      ];
    if (!endpointAddresses(endpoint).some((a) => a.ip === record.ip && a.pool === record.pool))
      return [{ object, problem: `recorded for pod ${record.pod}, but ${where} does not list it` }];
    return [];
  });
}

function endpointProblems(inventory: Inventory): Problem[] {
  const problems: Problem[] = [];
  const recordOf = new Map(inventory.records.map((r) => [`${r.pool}\0${r.ip}`, r]));
  const listedBy = new Map<string, string[]>();
  for (const endpoint of inventory.endpoints) {
    const key = objectKey(endpoint);
    const object = `SpiderEndpoint ${key}`;
    const uid = endpoint.status?.current.uid;
    if (inventory.decideEndpoint(endpoint).action === 'delete') {
      problems.push({ object, problem: `orphaned: no pool records UID ${uid} and its pod is gone` });
      continue;
    }
    for (const { ip, pool } of endpointAddresses(endpoint)) {
      listedBy.set(ip, [...(listedBy.get(ip) ?? []), key]);
      const record = recordOf.get(`${pool}\0${ip}`);
      if (!record) problems.push({ object, problem: `lists ${ip} of pool ${pool}, which the pool does not record` });
      else if (record.podUid !== uid)
        problems.push({
          object,
          problem: `lists ${ip} of pool ${pool} for UID ${uid}, but the pool records it for pod ${record.pod} UID ${record.podUid}`,
        });
    }
  }
  for (const [ip, keys] of listedBy) {
    if (keys.length > 1)
      problems.push({ object: `IP ${ip}`, problem: `listed by ${keys.length} endpoints: ${keys.join(', ')}` });
  }
  return problems;
}
