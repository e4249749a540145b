// Pools whose addresses overlap. The webhook refuses a pool that overlaps another, but two pools created at the
// same instant are each admitted against a list without the other, and a pool written while the webhook was down
// is never checked. The agents never hand out an address another pool has recorded; these are the pools an
// administrator must fix, flagged by a Warning event on each of them and a gauge.
import type { SpiderIPPool } from '../../api/v2beta1/types.ts';
import type { ReadCache } from '../runtime/types.ts';
import { IPSet } from '../../lib/ip/index.ts';
import { poolFamily } from '../../ipam/records.ts';

export interface Overlap {
  /** The other pool. */
  pool: string;
  /** The addresses both can hand out, as Spiderpool ranges. */
  shared: string[];
}

/** `ips − excludeIPs`, or undefined when the spec cannot be read (the IPPool reconciler reports that). */
function addresses(pool: SpiderIPPool): IPSet | undefined {
  try {
    const family = poolFamily(pool);
    return IPSet.fromRanges(pool.spec.ips ?? [], family).subtract(IPSet.fromRanges(pool.spec.excludeIPs ?? [], family));
  } catch {
    return undefined;
  }
}

/** Every pool that shares an address with another, with those others, by pool name. */
export function findOverlaps(pools: readonly SpiderIPPool[]): Map<string, Overlap[]> {
  const sets = pools.flatMap((pool) => {
    const set = addresses(pool);
    const first = set?.intervals[0];
    const last = set?.intervals[set.intervals.length - 1];
    return set && first && last ? [{ name: pool.metadata.name, set, start: first.start, end: last.end }] : [];
  });
  // Sorted by first address, a pool can only overlap those that start before its last address.
  sets.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const found = new Map<string, Overlap[]>();
  const add = (name: string, overlap: Overlap) => found.set(name, [...(found.get(name) ?? []), overlap]);
  for (const [i, a] of sets.entries()) {
    for (const b of sets.slice(i + 1)) {
      if (b.start > a.end) break;
      if (a.set.family !== b.set.family) continue;
      const shared = a.set.intersect(b.set);
      if (shared.isEmpty()) continue;
      add(a.name, { pool: b.name, shared: shared.toRanges() });
      add(b.name, { pool: a.name, shared: shared.toRanges() });
    }
  }
  return found;
}

/**
 * The overlaps of the cached pools, computed again only when a pool's spec changed. Keyed by each pool's uid and
 * generation, which status writes leave alone: otherwise every status write of a cold start would compute all
 * overlaps again. Asked for on every pool event and reconcile, so the check allocates nothing.
 */
export function overlapsOf(pools: ReadCache<SpiderIPPool>): () => Map<string, Overlap[]> {
  let memo: { specs: Map<string, SpecVersion>; found: Map<string, Overlap[]> } | undefined;
  return () => {
    const list = pools.list();
    if (!memo || !sameSpecs(memo.specs, list)) memo = { specs: specVersions(list), found: findOverlaps(list) };
    return memo.found;
  };
}

interface SpecVersion {
  uid?: string;
  generation?: number;
}

const specVersions = (pools: readonly SpiderIPPool[]) =>
  new Map(pools.map((p) => [p.metadata.name, { uid: p.metadata.uid, generation: p.metadata.generation }]));

function sameSpecs(known: Map<string, SpecVersion>, pools: readonly SpiderIPPool[]): boolean {
  if (known.size !== pools.length) return false;
  for (const { metadata } of pools) {
    const v = known.get(metadata.name);
    if (!v || v.uid !== metadata.uid || v.generation !== metadata.generation) return false;
  }
  return true;
}
