// What a pool holds and what it could still hand out, on intervals (never a list of addresses): the agent's
// reserved set, and the usage figures `kubectl spiderpool why` and `free` report.
import type { SpiderIPPool, SpiderReservedIP } from '../api/v2beta1/types.ts';
import { IPSet, formatIP, type Family } from '../lib/ip/index.ts';
import { assignable, poolFamily, readRecords, usedSet } from './records.ts';

/** Every address the SpiderReservedIPs of the family keep from being handed out. */
export function reservedSet(reservedIPs: readonly SpiderReservedIP[], family: Family): IPSet {
  let set = IPSet.empty(family);
  for (const r of reservedIPs) {
    const ips = r.spec.ips ?? [];
    const version = r.spec.ipVersion ?? (ips[0]?.includes(':') ? 6 : 4);
    if (version === family) set = set.union(IPSet.fromRanges(ips, family));
  }
  return set;
}

export interface PoolUsage {
  /** Addresses the pool may hand out at all: ips − excludeIPs − reserved − gateway. */
  total: bigint;
  /** Well-formed records, and malformed entries whose address stays taken. */
  allocated: bigint;
  free: IPSet;
  /** The first and last address of the longest run of free addresses, and its length. */
  largestFree?: { first: string; last: string; size: bigint };
  /** How many separate runs the free addresses form; 1 or 0 means not fragmented. */
  freeRuns: number;
}

export function poolUsage(pool: SpiderIPPool, reserved: IPSet): PoolUsage {
  const family = poolFamily(pool);
  const usable = assignable(pool, reserved);
  const { records, blocked } = readRecords(pool);
  const taken = usedSet(family, records).union(IPSet.fromValues(family, blocked));
  const free = usable.subtract(taken);
  let largest: { start: bigint; end: bigint } | undefined;
  for (const run of free.intervals) if (!largest || run.end - run.start > largest.end - largest.start) largest = run;
  return {
    total: usable.count(),
    allocated: usable.intersect(taken).count(),
    free,
    ...(largest
      ? {
          largestFree: {
            first: formatIP(largest.start, family),
            last: formatIP(largest.end, family),
            size: largest.end - largest.start + 1n,
          },
        }
      : {}),
    freeRuns: free.intervals.length,
  };
}
