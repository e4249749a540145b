import { type Family, IPError, formatIP, maxValue, parseCIDR, parseRange } from './address.ts';

/** Inclusive range of addresses. */
export interface Interval {
  readonly start: bigint;
  readonly end: bigint;
}

// Sorts and merges overlapping and adjacent intervals so every set has exactly one representation.
function normalize(intervals: Interval[]): Interval[] {
  const sorted = [...intervals].sort((x, y) => (x.start < y.start ? -1 : x.start > y.start ? 1 : 0));
  const out: Interval[] = [];
  for (const iv of sorted) {
    const last = out[out.length - 1];
    if (last && iv.start <= last.end + 1n) {
      if (iv.end > last.end) out[out.length - 1] = { start: last.start, end: iv.end };
    } else {
      out.push({ start: iv.start, end: iv.end });
    }
  }
  return out;
}

/** Immutable set of addresses of one family, held as sorted, merged intervals. */
export class IPSet {
  readonly intervals: readonly Interval[];

  private constructor(
    readonly family: Family,
    intervals: Interval[],
  ) {
    this.intervals = Object.freeze(intervals);
  }

  static empty(family: Family): IPSet {
    return new IPSet(family, []);
  }

  /**
   * Builds a set from Spiderpool range strings ("a" or "a-b"); the family is taken from the first element if not given.
   */
  static fromRanges(ranges: string[], family?: Family): IPSet {
    const parsed = ranges.map(parseRange);
    const fam = family ?? parsed[0]?.family;
    if (fam === undefined) throw new IPError('cannot infer the IP family of an empty range list');
    parsed.forEach((r, i) => {
      if (r.family !== fam) throw new IPError(`${JSON.stringify(ranges[i])} is IPv${r.family}, expected IPv${fam}`);
    });
    return new IPSet(fam, normalize(parsed));
  }

  static fromCIDR(cidr: string): IPSet {
    const { family, start, end } = parseCIDR(cidr);
    return new IPSet(family, [{ start, end }]);
  }

  static fromValues(family: Family, values: Iterable<bigint>): IPSet {
    const max = maxValue(family);
    const intervals: Interval[] = [];
    for (const v of values) {
      if (v < 0n || v > max) throw new IPError(`${v} is out of range for IPv${family}`);
      intervals.push({ start: v, end: v });
    }
    return new IPSet(family, normalize(intervals));
  }

  private sameFamily(o: IPSet): void {
    if (o.family !== this.family)
      throw new IPError(`cannot combine an IPv${this.family} set with an IPv${o.family} set`);
  }

  union(o: IPSet): IPSet {
    this.sameFamily(o);
    return new IPSet(this.family, normalize([...this.intervals, ...o.intervals]));
  }

  subtract(o: IPSet): IPSet {
    this.sameFamily(o);
    const cuts = o.intervals;
    const out: Interval[] = [];
    // Cuts that end below the current interval end below every later one too, so the scan never restarts.
    let first = 0;
    for (const iv of this.intervals) {
      let start = iv.start;
      for (let k = first; start <= iv.end; k++) {
        const cut = cuts[k];
        if (!cut || cut.start > iv.end) break;
        if (cut.end < start) {
          first = k + 1;
          continue;
        }
        if (cut.start > start) out.push({ start, end: cut.start - 1n });
        start = cut.end + 1n;
      }
      if (start <= iv.end) out.push({ start, end: iv.end });
    }
    return new IPSet(this.family, out);
  }

  intersect(o: IPSet): IPSet {
    this.sameFamily(o);
    const a = this.intervals;
    const b = o.intervals;
    const out: Interval[] = [];
    let i = 0;
    let j = 0;
    while (true) {
      const x = a[i];
      const y = b[j];
      if (!x || !y) break;
      const start = x.start > y.start ? x.start : y.start;
      const end = x.end < y.end ? x.end : y.end;
      if (start <= end) out.push({ start, end });
      if (x.end < y.end) i++;
      else j++;
    }
    return new IPSet(this.family, out);
  }

  overlaps(o: IPSet): boolean {
    return !this.intersect(o).isEmpty();
  }

  contains(v: bigint): boolean {
    let lo = 0;
    let hi = this.intervals.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const iv = this.intervals[mid];
      if (!iv) return false;
      if (v < iv.start) hi = mid - 1;
      else if (v > iv.end) lo = mid + 1;
      else return true;
    }
    return false;
  }

  /** Whether every address of `o` is in this set. */
  containsSet(o: IPSet): boolean {
    return o.subtract(this).isEmpty();
  }

  count(): bigint {
    return this.intervals.reduce((sum, iv) => sum + iv.end - iv.start + 1n, 0n);
  }

  isEmpty(): boolean {
    return this.intervals.length === 0;
  }

  equals(o: IPSet): boolean {
    return (
      o.family === this.family &&
      o.intervals.length === this.intervals.length &&
      this.intervals.every((iv, i) => iv.start === o.intervals[i]?.start && iv.end === o.intervals[i]?.end)
    );
  }

  /** The `n` lowest addresses, or all of them if the set is smaller. */
  take(n: number): bigint[] {
    const out: bigint[] = [];
    for (const iv of this.intervals) {
      for (let v = iv.start; v <= iv.end && out.length < n; v++) out.push(v);
      if (out.length >= n) break;
    }
    return out;
  }

  /** Spiderpool encoding: "a-b" for runs, bare "a" for single addresses. */
  toRanges(): string[] {
    return this.intervals.map(({ start, end }) =>
      start === end ? formatIP(start, this.family) : `${formatIP(start, this.family)}-${formatIP(end, this.family)}`,
    );
  }
}
