// Choosing the addresses of an auto-created pool out of its subnet. Everything works on interval sets,
// so a /64 subnet costs as little as a /24.
import type { SpiderSubnet } from '../../api/v2beta1/types.ts';
import { IPSet, formatIP, parseCIDR, parseIP, type Family } from '../../lib/ip/index.ts';

export const subnetFamily = (subnet: SpiderSubnet): Family =>
  subnet.spec.ipVersion ?? parseCIDR(subnet.spec.subnet).family;

/** `ips − excludeIPs`: what the subnet's status counts as its total. */
export function subnetIPs(subnet: SpiderSubnet): IPSet {
  const family = subnetFamily(subnet);
  return IPSet.fromRanges(subnet.spec.ips ?? [], family).subtract(
    IPSet.fromRanges(subnet.spec.excludeIPs ?? [], family),
  );
}

/**
 * What pools may be given: `ips − excludeIPs` without the gateway, which the agent never hands to a pod
 * (a subnet that lists it in ips without excluding it is refused by the webhook, but may predate it).
 */
export function carvableIPs(subnet: SpiderSubnet): IPSet {
  const family = subnetFamily(subnet);
  const gateway = subnet.spec.gateway
    ? IPSet.fromValues(family, [parseIP(subnet.spec.gateway).value])
    : IPSet.empty(family);
  return subnetIPs(subnet).subtract(gateway);
}

/** The `n` lowest addresses of the set, or all of it when it is smaller. */
export function lowest(set: IPSet, n: bigint): IPSet {
  const first = set.intervals[0];
  if (n <= 0n || !first) return IPSet.empty(set.family);
  let left = n;
  for (const iv of set.intervals) {
    const size = iv.end - iv.start + 1n;
    if (left <= size) return set.intersect(span(set.family, first.start, iv.start + left - 1n));
    left -= size;
  }
  return set;
}

/** The `n` highest addresses of the set, or all of it when it is smaller. */
export function highest(set: IPSet, n: bigint): IPSet {
  const last = set.intervals[set.intervals.length - 1];
  if (n <= 0n || !last) return IPSet.empty(set.family);
  let left = n;
  for (const iv of [...set.intervals].reverse()) {
    const size = iv.end - iv.start + 1n;
    if (left <= size) return set.intersect(span(set.family, iv.end - left + 1n, last.end));
    left -= size;
  }
  return set;
}

const span = (family: Family, start: bigint, end: bigint): IPSet =>
  IPSet.fromRanges([`${formatIP(start, family)}-${formatIP(end, family)}`], family);

export type Resize =
  | { ok: true; ips: IPSet }
  /** Growing: the subnet has `free` addresses left but `missing` more are needed. */
  | { ok: false; reason: 'exhausted'; missing: bigint; free: bigint }
  /** Shrinking: only `free` of the addresses are unallocated, but `excess` must go. */
  | { ok: false; reason: 'in-use'; excess: bigint; free: bigint };

/**
 * The pool's next addresses. `held` is what the pool holds or has reserved, `free` what nobody holds,
 * `allocated` what pods use. Growing takes the lowest free addresses; shrinking drops the highest
 * unallocated ones, so a pool stays packed at the low end of what it was given, and never drops an
 * address a pod uses: it waits instead, until enough pods have gone.
 */
export function resize(held: IPSet, size: number, free: IPSet, allocated: IPSet): Resize {
  const have = held.count();
  const want = BigInt(size);
  if (want > have) {
    const missing = want - have;
    const available = free.subtract(held);
    if (available.count() < missing) return { ok: false, reason: 'exhausted', missing, free: available.count() };
    return { ok: true, ips: held.union(lowest(available, missing)) };
  }
  const excess = have - want;
  const unused = held.subtract(allocated);
  if (unused.count() < excess) return { ok: false, reason: 'in-use', excess, free: unused.count() };
  return { ok: true, ips: held.subtract(highest(unused, excess)) };
}
