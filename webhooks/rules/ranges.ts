// IP range lists ("a" or "a-b") as SpiderIPPool, SpiderSubnet and SpiderReservedIP carry them. Sets stay
// BigInt intervals: a /64 of ranges is never expanded.
import { type CIDR, type Family, IPSet, parseCIDR, parseRange } from '../../lib/ip/index.ts';
import { show } from './decision.ts';

export interface RangeItem {
  index: number;
  text: string;
  set: IPSet;
}

const reason = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * The entries of `field` that parse and are of `family`, inside `within` when given. Every other entry
 * adds a problem naming it.
 */
export function checkRanges(
  field: string,
  ranges: string[] | undefined,
  family: Family,
  problems: string[],
  within?: { cidr: CIDR; field: string },
): RangeItem[] {
  const items: RangeItem[] = [];
  (ranges ?? []).forEach((text, index) => {
    const at = `${field}[${index}] ${show(text)}`;
    let range;
    try {
      range = parseRange(text);
    } catch (err) {
      problems.push(`${field}[${index}]: ${reason(err)}`);
      return;
    }
    if (range.family !== family) {
      problems.push(`${at} is IPv${range.family}, expected IPv${family}`);
      return;
    }
    if (within && (range.start < within.cidr.start || range.end > within.cidr.end)) {
      problems.push(`${at} is outside ${within.field} ${within.cidr.canonical}`);
      return;
    }
    items.push({ index, text, set: IPSet.fromRanges([text], family) });
  });
  return items;
}

/**
 * Entries of one list that share addresses; the mutating webhook merges them, so this only fires when it was bypassed.
 */
export function checkNoSelfOverlap(field: string, items: RangeItem[], problems: string[]): void {
  for (let j = 1; j < items.length; j++) {
    const later = items[j] as RangeItem;
    const earlier = items.slice(0, j).find((i) => i.set.overlaps(later.set));
    if (earlier)
      problems.push(
        `${field}[${later.index}] ${show(later.text)} overlaps ${field}[${earlier.index}] ${show(earlier.text)}`,
      );
  }
}

export function union(items: RangeItem[], family: Family): IPSet {
  return items.reduce((acc, i) => acc.union(i.set), IPSet.empty(family));
}

/** Sorted, merged, minimal form of a range list; the list unchanged when it cannot be parsed as one family. */
export function mergeRanges(ranges: string[] | undefined): string[] | undefined {
  if (!ranges || ranges.length === 0) return ranges;
  try {
    return IPSet.fromRanges(ranges).toRanges();
  } catch {
    return ranges;
  }
}

/** A short rendering of a set for messages: its first ranges, then how many more. */
export function describeSet(set: IPSet, max = 3): string {
  const ranges = set.toRanges();
  const shown = ranges.slice(0, max).join(', ');
  return ranges.length > max ? `${shown} and ${ranges.length - max} more ranges` : shown;
}

interface PoolSpecLike {
  subnet: string;
  ips?: string[];
  excludeIPs?: string[];
}

// A check compares the request with every other pool: the cached pools are the same objects from one request to
// the next, so each is parsed once, not once per check. Specs are never modified in place.
const parsed = new WeakMap<PoolSpecLike, { cidr: CIDR; effective: IPSet } | undefined>();

/**
 * Subnet and `ips − excludeIPs` of a stored pool or subnet; undefined when it cannot be read (written while the webhook
 * was down).
 */
export function effectiveIPs(spec: PoolSpecLike): { cidr: CIDR; effective: IPSet } | undefined {
  if (parsed.has(spec)) return parsed.get(spec);
  let result: { cidr: CIDR; effective: IPSet } | undefined;
  try {
    const cidr = parseCIDR(spec.subnet);
    const effective = IPSet.fromRanges(spec.ips ?? [], cidr.family).subtract(
      IPSet.fromRanges(spec.excludeIPs ?? [], cidr.family),
    );
    result = { cidr, effective };
  } catch {
    result = undefined;
  }
  parsed.set(spec, result);
  return result;
}
