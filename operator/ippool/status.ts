// What the IPPool reconciler computes for one pool: its counters and its metadata. Pure functions of
// the pool, so they can be tested without a cluster.
import { FINALIZER, POOL_CIDR_LABEL } from '../../api/v2beta1/constants.ts';
import type { SpiderIPPool } from '../../api/v2beta1/types.ts';
import { IPSet, cidrToLabelValue } from '../../lib/ip/index.ts';
import { parseRecords, poolFamily } from '../../ipam/records.ts';

/** A pool whose spec or status cannot be interpreted; retrying does not help until someone edits it. */
export class InvalidPool extends Error {}

/**
 * Spiderpool caps totalIPCount at the int64 maximum; a JSON number in JavaScript is exact only up to
 * 2^53 − 1, so that is the cap here (an IPv6 pool larger than 2^53 addresses reports 9007199254740991).
 */
const MAX_COUNT = BigInt(Number.MAX_SAFE_INTEGER);

/** |ips − excludeIPs|, counted on intervals (a /64 is never expanded). */
export function totalIPCount(pool: SpiderIPPool): number {
  const family = poolFamily(pool);
  let ips: IPSet;
  let excluded: IPSet;
  try {
    ips = IPSet.fromRanges(pool.spec.ips ?? [], family);
  } catch (err) {
    throw new InvalidPool(`SpiderIPPool ${pool.metadata.name}: spec.ips: ${(err as Error).message}`);
  }
  try {
    excluded = IPSet.fromRanges(pool.spec.excludeIPs ?? [], family);
  } catch (err) {
    throw new InvalidPool(`SpiderIPPool ${pool.metadata.name}: spec.excludeIPs: ${(err as Error).message}`);
  }
  const n = ips.subtract(excluded).count();
  return Number(n > MAX_COUNT ? MAX_COUNT : n);
}

/** The number of records in status.allocatedIPs. */
export function allocatedIPCount(pool: SpiderIPPool): number {
  try {
    return parseRecords(pool).size;
  } catch (err) {
    throw new InvalidPool((err as Error).message);
  }
}

export interface PoolCounts {
  total: number;
  allocated: number;
}

const memo = new WeakMap<SpiderIPPool, PoolCounts>();

/** Counts of a cached pool object; cached objects are replaced, never mutated, so they are memoised. */
export function poolCounts(pool: SpiderIPPool): PoolCounts {
  let counts = memo.get(pool);
  if (!counts) {
    counts = { total: totalIPCount(pool), allocated: allocatedIPCount(pool) };
    memo.set(pool, counts);
  }
  return counts;
}

const hasFinalizer = (pool: SpiderIPPool): boolean => pool.metadata.finalizers?.includes(FINALIZER) ?? false;

// JSON pointer escaping (RFC 6901) of one path segment.
const pointer = (segment: string): string => segment.replace(/~/g, '~0').replace(/\//g, '~1');

export type PatchOp =
  | { op: 'test'; path: string; value: unknown }
  | { op: 'add' | 'replace'; path: string; value: unknown }
  | { op: 'remove'; path: string };

/**
 * The JSON patch that adds the finalizer and sets the CIDR label, guarded by the resourceVersion it was
 * computed from; undefined when nothing is missing.
 */
export function metadataPatch(pool: SpiderIPPool): PatchOp[] | undefined {
  const ops: PatchOp[] = [];
  const { finalizers, labels } = pool.metadata;
  if (!hasFinalizer(pool)) {
    ops.push(
      finalizers
        ? { op: 'add', path: '/metadata/finalizers/-', value: FINALIZER }
        : { op: 'add', path: '/metadata/finalizers', value: [FINALIZER] },
    );
  }
  const cidr = cidrToLabelValue(pool.spec.subnet);
  if (labels?.[POOL_CIDR_LABEL] !== cidr) {
    ops.push(
      labels
        ? { op: 'add', path: `/metadata/labels/${pointer(POOL_CIDR_LABEL)}`, value: cidr }
        : { op: 'add', path: '/metadata/labels', value: { [POOL_CIDR_LABEL]: cidr } },
    );
  }
  return ops.length ? [guard(pool), ...ops] : undefined;
}

/** The JSON patch that removes the finalizer; undefined when it is not there. */
export function finalizerRemovalPatch(pool: SpiderIPPool): PatchOp[] | undefined {
  const index = pool.metadata.finalizers?.indexOf(FINALIZER) ?? -1;
  if (index < 0) return undefined;
  return [guard(pool), { op: 'remove', path: `/metadata/finalizers/${index}` }];
}

/** The JSON patch of the status counters; undefined when they are already right. */
export function statusPatch(pool: SpiderIPPool, counts: PoolCounts): PatchOp[] | undefined {
  const status = pool.status;
  if (status?.totalIPCount === counts.total && status.allocatedIPCount === counts.allocated) return undefined;
  const ops: PatchOp[] = status
    ? [
        { op: 'add', path: '/status/totalIPCount', value: counts.total },
        { op: 'add', path: '/status/allocatedIPCount', value: counts.allocated },
      ]
    : [{ op: 'add', path: '/status', value: { totalIPCount: counts.total, allocatedIPCount: counts.allocated } }];
  return [guard(pool), ...ops];
}

// Every write is conditional: the counters must match the allocatedIPs the agents wrote at this version.
const guard = (pool: SpiderIPPool): PatchOp => ({
  op: 'replace',
  path: '/metadata/resourceVersion',
  value: pool.metadata.resourceVersion,
});
