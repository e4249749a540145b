// Admission warnings: things that do not make the pod invalid but will keep it from starting or make an
// annotation do nothing.
import type { V1Pod } from '@kubernetes/client-node';
import type { SpiderIPPool } from '../../api/v2beta1/types.ts';
import { ANNOTATION } from '../../api/v2beta1/constants.ts';
import { poolFamily, type PodIPAMAnnotations } from '../../ipam/selection/index.ts';
import { assignable, parseRecords, usedSet } from '../../ipam/records.ts';
import { IPSet, parseCIDR, parseIP, type Family } from '../../lib/ip/index.ts';
import type { ClusterView } from '../types.ts';
import type { FamilyChoice } from './pools.ts';

/**
 * One warning per family whose candidate pools have fewer free addresses than the pods waiting for them,
 * this one included. Free: `ips − excludeIPs − reserved − gateway − allocated`, as the agent computes it.
 * Waiting: pods not yet finished or terminating, in phase Pending, that hold no address of these pools
 * and name one of them (literally or by pattern) in ipam.spidernet.io/ippool or ippools for the same
 * family. Pods that reach the pools through namespace or CNI defaults are not counted: best effort.
 */
export async function capacityWarnings(pod: V1Pod, choices: FamilyChoice[], cluster: ClusterView): Promise<string[]> {
  if (choices.length === 0) return [];
  const reservedIPs = await cluster.listReservedIPs();
  const reserved = (family: Family): IPSet =>
    reservedIPs.reduce((set, r) => {
      const ips = r.spec.ips ?? [];
      const version = r.spec.ipVersion ?? (ips[0]?.includes(':') ? 6 : 4);
      if (version !== family || ips.length === 0) return set;
      try {
        return set.union(IPSet.fromRanges(ips, family));
      } catch {
        return set;
      }
    }, IPSet.empty(family));
  const self = `${pod.metadata?.namespace}/${pod.metadata?.name}`;

  const warnings: string[] = [];
  for (const choice of choices) {
    const holders = new Set<string>();
    let free = 0n;
    for (const pool of choice.pools) {
      const usage = poolUsage(pool, reserved(poolFamily(pool)));
      if (usage === undefined) continue;
      usage.holders.forEach((h) => holders.add(h));
      free += usage.free;
    }
    const naming = await cluster.pendingPodsNaming(
      choice.family,
      choice.pools.map((p) => p.metadata.name),
    );
    const waiting = 1 + [...naming].filter((key) => key !== self && !holders.has(key)).length;
    if (free >= BigInt(waiting)) continue;
    const names = choice.pools.map((p) => `"${p.metadata.name}"`).join(', ');
    warnings.push(
      `SpiderIPPool ${names} (${choice.source}, ${choice.nics.join('/')} IPv${choice.family}) ${choice.pools.length > 1 ? 'have' : 'has'} ` +
        `${free} free address${free === 1n ? '' : 'es'} for ${waiting} pod${waiting > 1 ? 's' : ''} waiting for one, this pod included; ` +
        'pods beyond that stay in ContainerCreating until addresses are released or added to the pool',
    );
  }
  return warnings;
}

/** Routes whose gateway lies in no subnet of the pools the pod names: the agent drops them. */
export function routeWarnings(ipam: PodIPAMAnnotations, choices: FamilyChoice[]): string[] {
  if (!ipam.routes || choices.length === 0) return [];
  const subnets = choices.flatMap((c) => c.pools.map((p) => p.spec.subnet));
  const contains = (subnet: string, ip: string): boolean => {
    try {
      const cidr = parseCIDR(subnet);
      const addr = parseIP(ip);
      return cidr.family === addr.family && addr.value >= cidr.start && addr.value <= cidr.end;
    } catch {
      return false;
    }
  };
  return ipam.routes.flatMap((route, i) => {
    const inSubnet = subnets.some((s) => contains(s, route.gw));
    return inSubnet
      ? []
      : [
          `annotation ${ANNOTATION.routes}: route ${i} (${route.dst} via ${route.gw}) is dropped: ${route.gw} is in the subnet of none of the pod's pools (${subnets.join(', ')})`,
        ];
  });
}

/**
 * What a pool's records say, parsed once per object: a cached pool is the same object until it changes, and
 * its records (up to 5000) would otherwise be parsed on every pod create that names it.
 */
const recordsRead = new WeakMap<SpiderIPPool, { used: IPSet; holders: string[] }>();

/** Free addresses and the pods holding one; undefined for a pool whose spec or status cannot be read. */
function poolUsage(pool: SpiderIPPool, reserved: IPSet): { free: bigint; holders: string[] } | undefined {
  try {
    let read = recordsRead.get(pool);
    if (!read) {
      const records = parseRecords(pool);
      read = { used: usedSet(poolFamily(pool), records), holders: [...records.values()].map((r) => r.pod) };
      recordsRead.set(pool, read);
    }
    return { free: assignable(pool, reserved).subtract(read.used).count(), holders: read.holders };
  } catch {
    return undefined;
  }
}
