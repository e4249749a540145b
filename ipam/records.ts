// SpiderIPPool.status.allocatedIPs: a JSON object keyed by IP, {"10.6.0.12": {"pod": "ns/name", "podUid": "…"}},
// exactly as Spiderpool stores it so that both can read each other's pools.
import type { PoolIPAllocation, SpiderIPPool } from '../api/v2beta1/types.ts';
import { IPSet, parseIP, type Family } from '../lib/ip/index.ts';

export type PoolRecords = Map<string, PoolIPAllocation>;

export function parseRecords(pool: SpiderIPPool): PoolRecords {
  const raw = pool.status?.allocatedIPs;
  if (!raw || raw === 'null') return new Map();
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error(`SpiderIPPool ${pool.metadata.name}: status.allocatedIPs is not valid JSON`);
  }
  if (parsed === null) return new Map();
  if (typeof parsed !== 'object' || Array.isArray(parsed))
    throw new Error(`SpiderIPPool ${pool.metadata.name}: status.allocatedIPs is not a JSON object`);
  return new Map(Object.entries(parsed as Record<string, PoolIPAllocation>));
}

export function serializeRecords(records: PoolRecords): string | undefined {
  if (records.size === 0) return undefined;
  return JSON.stringify(Object.fromEntries(records));
}

/**
 * The pool's family. The mutating webhook fills spec.ipVersion from the subnet, but a pool written while
 * the webhook was unavailable may lack it, so the subnet decides then.
 */
export function poolFamily(pool: SpiderIPPool): Family {
  return pool.spec.ipVersion ?? (pool.spec.subnet.includes(':') ? 6 : 4);
}

/**
 * The addresses the pool may hand out before looking at allocations: `ips − excludeIPs − reserved`.
 * The gateway is also removed: the webhook refuses pools that would hand it out, but a pool written
 * while the webhook was down must not give a pod its gateway's address.
 */
export function assignable(pool: SpiderIPPool, reserved: IPSet): IPSet {
  const family = poolFamily(pool);
  let set = IPSet.fromRanges(pool.spec.ips ?? [], family).subtract(
    IPSet.fromRanges(pool.spec.excludeIPs ?? [], family),
  );
  if (reserved.family === family) set = set.subtract(reserved);
  if (pool.spec.gateway) set = set.subtract(IPSet.fromValues(family, [parseIP(pool.spec.gateway).value]));
  return set;
}

export function usedSet(family: Family, records: PoolRecords): IPSet {
  return IPSet.fromValues(
    family,
    [...records.keys()].map((ip) => parseIP(ip).value),
  );
}
