// SpiderIPPool.status.allocatedIPs: a JSON object keyed by IP, {"10.6.0.12": {"pod": "ns/name", "podUid": "…"}},
// exactly as Spiderpool stores it so that both can read each other's pools.
import type { PoolIPAllocation, SpiderIPPool } from '../api/v2beta1/types.ts';
import { IPSet, formatIP, parseIP, type Family } from '../lib/ip/index.ts';

export type PoolRecords = Map<string, PoolIPAllocation>;

/**
 * The status read entry by entry. An entry that is not a record of a pod (a key that is no address, a
 * value without `pod` or `podUid`, written by hand or by a faulty writer) must not make the whole pool
 * unusable: it is reported, kept verbatim on every write, and its address, if its key is one, stays taken.
 */
export interface ReadRecords {
  records: PoolRecords;
  malformed: Map<string, unknown>;
  /** The addresses of malformed entries whose key is an address of the pool's family. */
  blocked: bigint[];
  problems: string[];
}

const isRecord = (value: unknown): value is PoolIPAllocation => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const { pod, podUid, nic } = value as Record<string, unknown>;
  return (
    typeof pod === 'string' &&
    pod !== '' &&
    typeof podUid === 'string' &&
    podUid !== '' &&
    ['string', 'undefined'].includes(typeof nic)
  );
};

function canonicalAddress(key: string, family: Family): bigint | undefined {
  try {
    const ip = parseIP(key);
    return ip.family === family ? ip.value : undefined;
  } catch {
    return undefined;
  }
}

/** Throws only when the whole field is unreadable: then no address of the pool can be known to be free. */
export function readRecords(pool: SpiderIPPool): ReadRecords {
  const read: ReadRecords = { records: new Map(), malformed: new Map(), blocked: [], problems: [] };
  const raw = pool.status?.allocatedIPs;
  if (!raw || raw === 'null') return read;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error(`SpiderIPPool ${pool.metadata.name}: status.allocatedIPs is not valid JSON`);
  }
  if (parsed === null) return read;
  if (typeof parsed !== 'object' || Array.isArray(parsed))
    throw new Error(`SpiderIPPool ${pool.metadata.name}: status.allocatedIPs is not a JSON object`);
  const family = poolFamily(pool);
  for (const [key, value] of Object.entries(parsed)) {
    const address = canonicalAddress(key, family);
    if (address !== undefined && formatIP(address, family) === key && isRecord(value)) {
      read.records.set(key, value);
      continue;
    }
    read.malformed.set(key, value);
    if (address !== undefined) read.blocked.push(address);
    read.problems.push(
      `SpiderIPPool ${pool.metadata.name}: allocatedIPs entry ${JSON.stringify(key).slice(0, 80)} ` +
        (address === undefined
          ? `is not an IPv${family} address`
          : 'is not a record {"pod", "podUid"} in canonical form; its address stays taken'),
    );
  }
  return read;
}

/** The well-formed records; see readRecords for the others. */
export function parseRecords(pool: SpiderIPPool): PoolRecords {
  return readRecords(pool).records;
}

/** The status field for these records, with the malformed entries kept as they were. */
export function serializeRecords(
  records: PoolRecords,
  malformed: ReadonlyMap<string, unknown> = new Map(),
): string | undefined {
  if (records.size === 0 && malformed.size === 0) return undefined;
  return JSON.stringify(Object.fromEntries([...malformed, ...records]));
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
