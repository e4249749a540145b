import assert from 'node:assert/strict';
import { type Family, formatIP, parseIP } from './address.ts';
import { IPSet } from './ipset.ts';

const v4 = (s: string) => parseIP(s).value;
const v6 = (s: string) => parseIP(s).value;
const throwsIP = (fn: () => unknown, message: string) => assert.throws(fn, { name: 'IPError', message });

describe('IPSet construction', () => {
  it('merges overlapping, adjacent and out-of-order ranges', () => {
    const s = IPSet.fromRanges([
      '10.0.0.5-10.0.0.10',
      '10.0.0.1-10.0.0.4',
      '10.0.0.8-10.0.0.20',
      '10.0.0.30',
      '10.0.0.21',
      '10.0.0.30',
    ]);
    assert.deepEqual(s.toRanges(), ['10.0.0.1-10.0.0.21', '10.0.0.30']);
    assert.equal(s.family, 4);
    assert.deepEqual(s.intervals, [
      { start: v4('10.0.0.1'), end: v4('10.0.0.21') },
      { start: v4('10.0.0.30'), end: v4('10.0.0.30') },
    ]);
  });

  it('merges IPv6 ranges across group boundaries and prints them compressed', () => {
    const s = IPSet.fromRanges(['fd00::1:0-fd00::1:ff', 'FD00::FFF0-fd00::ffff', 'fd00::2:0']);
    assert.deepEqual(s.toRanges(), ['fd00::fff0-fd00::1:ff', 'fd00::2:0']);
    assert.equal(s.family, 6);
  });

  it('builds from a CIDR, including one with host bits', () => {
    assert.deepEqual(IPSet.fromCIDR('10.6.0.5/30').toRanges(), ['10.6.0.4-10.6.0.7']);
    assert.deepEqual(IPSet.fromCIDR('10.6.0.5/32').toRanges(), ['10.6.0.5']);
  });

  it('builds from values with duplicates in any order', () => {
    const s = IPSet.fromValues(4, [v4('10.0.0.3'), v4('10.0.0.1'), v4('10.0.0.2'), v4('10.0.0.3'), v4('10.0.0.9')]);
    assert.deepEqual(s.toRanges(), ['10.0.0.1-10.0.0.3', '10.0.0.9']);
    assert.ok(IPSet.fromValues(6, []).equals(IPSet.empty(6)));
  });

  it('is immutable', () => {
    const s = IPSet.fromRanges(['10.0.0.1-10.0.0.5']);
    assert.ok(Object.isFrozen(s.intervals));
    s.union(IPSet.fromRanges(['10.0.0.6'])).subtract(IPSet.fromRanges(['10.0.0.2']));
    assert.deepEqual(s.toRanges(), ['10.0.0.1-10.0.0.5']);
  });

  it('fromRanges names the offending element', () => {
    throwsIP(
      () => IPSet.fromRanges(['10.0.0.1', '10.0.0.0/24']),
      '"10.0.0.0/24" is not a valid IP range: CIDR notation is not allowed, use "a" or "a-b"',
    );
    throwsIP(
      () => IPSet.fromRanges(['10.0.0.1', '10.0.0.x']),
      '"10.0.0.x" is not a valid IP range: "10.0.0.x" is not a valid IP address',
    );
    throwsIP(() => IPSet.fromRanges(['10.0.0.1', 'fd00::1-fd00::2']), '"fd00::1-fd00::2" is IPv6, expected IPv4');
    throwsIP(() => IPSet.fromRanges(['10.0.0.1'], 6), '"10.0.0.1" is IPv4, expected IPv6');
    throwsIP(() => IPSet.fromRanges([]), 'cannot infer the IP family of an empty range list');
    assert.ok(IPSet.fromRanges([], 4).isEmpty());
  });

  it('fromValues rejects values outside the family', () => {
    throwsIP(() => IPSet.fromValues(4, [1n << 32n]), '4294967296 is out of range for IPv4');
    throwsIP(() => IPSet.fromValues(6, [-1n]), '-1 is out of range for IPv6');
  });
});

describe('IPSet operations', () => {
  const pool = IPSet.fromCIDR('10.0.0.0/24');

  it('subtract splits intervals', () => {
    const rest = pool.subtract(IPSet.fromRanges(['10.0.0.10', '10.0.0.20-10.0.0.29']));
    assert.deepEqual(rest.toRanges(), ['10.0.0.0-10.0.0.9', '10.0.0.11-10.0.0.19', '10.0.0.30-10.0.0.255']);
    assert.equal(rest.count(), 256n - 11n);
  });

  it('subtract handles cuts at the edges, spanning several intervals, and covering everything', () => {
    const s = IPSet.fromRanges(['10.0.0.1-10.0.0.5', '10.0.0.10-10.0.0.15', '10.0.0.20-10.0.0.25']);
    assert.deepEqual(s.subtract(IPSet.fromRanges(['10.0.0.1', '10.0.0.25'])).toRanges(), [
      '10.0.0.2-10.0.0.5',
      '10.0.0.10-10.0.0.15',
      '10.0.0.20-10.0.0.24',
    ]);
    assert.deepEqual(s.subtract(IPSet.fromRanges(['10.0.0.4-10.0.0.21'])).toRanges(), [
      '10.0.0.1-10.0.0.3',
      '10.0.0.22-10.0.0.25',
    ]);
    assert.deepEqual(s.subtract(IPSet.fromRanges(['10.0.0.0-10.0.0.255'])).toRanges(), []);
    assert.ok(s.subtract(IPSet.empty(4)).equals(s));
    assert.ok(IPSet.empty(4).subtract(s).isEmpty());
  });

  it('union, intersect and overlaps', () => {
    const a = IPSet.fromRanges(['10.0.0.1-10.0.0.10', '10.0.0.20-10.0.0.30']);
    const b = IPSet.fromRanges(['10.0.0.5-10.0.0.25']);
    assert.deepEqual(a.union(b).toRanges(), ['10.0.0.1-10.0.0.30']);
    assert.deepEqual(a.intersect(b).toRanges(), ['10.0.0.5-10.0.0.10', '10.0.0.20-10.0.0.25']);
    assert.ok(a.overlaps(b));
    assert.ok(!a.overlaps(IPSet.fromRanges(['10.0.0.11-10.0.0.19'])));
    assert.deepEqual(a.union(IPSet.fromRanges(['10.0.0.11-10.0.0.19'])).toRanges(), ['10.0.0.1-10.0.0.30']);
  });

  it('contains, containsSet, equals, isEmpty', () => {
    const s = IPSet.fromRanges(['10.0.0.1-10.0.0.3', '10.0.0.7', '10.0.0.9-10.0.0.12']);
    for (const ip of ['10.0.0.1', '10.0.0.3', '10.0.0.7', '10.0.0.9', '10.0.0.12']) assert.ok(s.contains(v4(ip)), ip);
    for (const ip of ['10.0.0.0', '10.0.0.4', '10.0.0.6', '10.0.0.8', '10.0.0.13']) assert.ok(!s.contains(v4(ip)), ip);
    assert.ok(!IPSet.empty(4).contains(0n));
    assert.ok(pool.containsSet(s));
    assert.ok(!s.containsSet(pool));
    assert.ok(s.containsSet(IPSet.empty(4)));
    assert.ok(s.equals(IPSet.fromRanges(['10.0.0.9-10.0.0.12', '10.0.0.7', '10.0.0.1', '10.0.0.2-10.0.0.3'])));
    assert.ok(!s.equals(pool));
    assert.ok(!IPSet.empty(4).equals(IPSet.empty(6)));
    assert.ok(IPSet.empty(4).isEmpty() && !s.isEmpty());
  });

  it('take returns the lowest addresses across interval boundaries', () => {
    const s = IPSet.fromRanges(['10.0.0.8-10.0.0.9', '10.0.0.1-10.0.0.2', '10.0.0.5']);
    assert.deepEqual(
      s.take(4).map((v) => formatIP(v, 4)),
      ['10.0.0.1', '10.0.0.2', '10.0.0.5', '10.0.0.8'],
    );
    assert.deepEqual(
      s.take(2).map((v) => formatIP(v, 4)),
      ['10.0.0.1', '10.0.0.2'],
    );
    assert.equal(s.take(100).length, 5);
    assert.deepEqual(s.take(0), []);
    assert.deepEqual(IPSet.empty(6).take(3), []);
  });

  it('refuses to combine families', () => {
    const msg = 'cannot combine an IPv4 set with an IPv6 set';
    const six = IPSet.fromRanges(['fd00::1']);
    throwsIP(() => pool.union(six), msg);
    throwsIP(() => pool.subtract(six), msg);
    throwsIP(() => pool.intersect(six), msg);
    throwsIP(() => pool.overlaps(six), msg);
    throwsIP(() => six.containsSet(pool), msg);
  });

  it('toRanges round trips', () => {
    for (const ranges of [
      ['10.0.0.1', '10.0.0.3-10.0.0.200', '192.168.0.0-192.168.255.255'],
      ['0.0.0.0-255.255.255.255'],
      ['fd00::1', 'fd00::3-fd00::1:0', '2001:db8::1:0:0:1'],
      ['::'],
    ]) {
      const s = IPSet.fromRanges(ranges);
      assert.deepEqual(IPSet.fromRanges(s.toRanges()).toRanges(), s.toRanges());
      assert.ok(IPSet.fromRanges(s.toRanges()).equals(s));
    }
    assert.deepEqual(IPSet.fromRanges(['2001:db8::1:0:0:1']).toRanges(), ['2001:db8::1:0:0:1']);
  });
});

describe('IPSet at IPv6 scale', () => {
  it('counts a /64 and the whole address space', () => {
    assert.equal(IPSet.fromCIDR('fd00:10::/64').count(), 1n << 64n);
    const all = IPSet.fromRanges(['::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff']);
    assert.equal(all.count(), 1n << 128n);
    assert.ok(all.equals(IPSet.fromCIDR('::/0')));
    assert.deepEqual(all.toRanges(), ['::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff']);
    assert.equal(IPSet.fromCIDR('0.0.0.0/0').count(), 1n << 32n);
  });

  it('subtracts 10 000 excluded singles from a /64 and takes from what is left', () => {
    const net = IPSet.fromCIDR('fd00:10::/64');
    const base = v6('fd00:10::');
    const excluded = Array.from({ length: 10_000 }, (_, i) => base + BigInt(i) * 2n);
    const free = net.subtract(IPSet.fromValues(6, excluded));
    assert.equal(free.count(), (1n << 64n) - 10_000n);
    assert.equal(free.intervals.length, 10_000);
    assert.deepEqual(
      free.take(3).map((v) => formatIP(v, 6)),
      ['fd00:10::1', 'fd00:10::3', 'fd00:10::5'],
    );
    assert.ok(!free.contains(base + 19_998n));
    assert.ok(free.contains(base + 19_999n));
    assert.ok(free.contains(base + 20_000n));
    assert.deepEqual(free.toRanges().at(-1), 'fd00:10::4e1f-fd00:10::ffff:ffff:ffff:ffff');
    assert.ok(net.containsSet(free) && !free.overlaps(IPSet.fromValues(6, excluded)));
  });
});

// mulberry32: small, seedable, good enough to generate test cases reproducibly.
function prng(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * n);
  };
}

describe('IPSet against a naive Set model', () => {
  const SIZE = 64;
  const universes: [Family, bigint][] = [
    [4, v4('10.0.0.0')],
    // Straddles a 16-bit group boundary so formatting of the ends varies.
    [6, v6('fd00::ffe0')],
  ];

  for (const [family, base] of universes) {
    it(`matches the model on random IPv${family} ranges`, () => {
      const rand = prng(0x5eed + family);
      const randomInput = (): [string[], Set<bigint>] => {
        const ranges: string[] = [];
        const model = new Set<bigint>();
        for (let k = rand(6); k > 0; k--) {
          const start = base + BigInt(rand(SIZE));
          const end = start + BigInt(rand(10));
          ranges.push(start === end ? formatIP(start, family) : `${formatIP(start, family)}-${formatIP(end, family)}`);
          for (let v = start; v <= end; v++) model.add(v);
        }
        return [ranges, model];
      };
      const expand = (s: IPSet) => {
        const out = new Set<bigint>();
        for (const { start, end } of s.intervals) for (let v = start; v <= end; v++) out.add(v);
        return out;
      };
      const sorted = (m: Set<bigint>) => [...m].sort((x, y) => (x < y ? -1 : 1));
      const naiveRanges = (m: Set<bigint>) => {
        const runs: [bigint, bigint][] = [];
        for (const v of sorted(m)) {
          const last = runs[runs.length - 1];
          if (last && last[1] + 1n === v) last[1] = v;
          else runs.push([v, v]);
        }
        return runs.map(([a, b]) => (a === b ? formatIP(a, family) : `${formatIP(a, family)}-${formatIP(b, family)}`));
      };
      const check = (s: IPSet, m: Set<bigint>, what: string) => {
        assert.deepEqual(expand(s), m, what);
        assert.deepEqual(s.toRanges(), naiveRanges(m), what);
        assert.equal(s.count(), BigInt(m.size), what);
        s.intervals.forEach((iv, i) => {
          const prev = s.intervals[i - 1];
          assert.ok(iv.start <= iv.end && (!prev || prev.end + 1n < iv.start), `${what}: not sorted and merged`);
        });
      };

      for (let round = 0; round < 500; round++) {
        const [ra, ma] = randomInput();
        const [rb, mb] = randomInput();
        const a = IPSet.fromRanges(ra, family);
        const b = IPSet.fromRanges(rb, family);
        const ctx = `round ${round}: ${JSON.stringify(ra)} vs ${JSON.stringify(rb)}`;

        check(a, ma, `${ctx} a`);
        check(a.union(b), new Set([...ma, ...mb]), `${ctx} union`);
        check(a.subtract(b), new Set([...ma].filter((v) => !mb.has(v))), `${ctx} subtract`);
        const common = new Set([...ma].filter((v) => mb.has(v)));
        check(a.intersect(b), common, `${ctx} intersect`);
        check(IPSet.fromValues(family, ma), ma, `${ctx} fromValues`);
        assert.equal(a.overlaps(b), common.size > 0, `${ctx} overlaps`);
        assert.equal(
          a.containsSet(b),
          [...mb].every((v) => ma.has(v)),
          `${ctx} containsSet`,
        );
        assert.equal(a.equals(b), ma.size === mb.size && [...ma].every((v) => mb.has(v)), `${ctx} equals`);
        assert.ok(IPSet.fromRanges(a.toRanges(), family).equals(a), `${ctx} round trip`);
        const k = rand(SIZE);
        assert.deepEqual(a.take(k), sorted(ma).slice(0, k), `${ctx} take(${k})`);
        for (let v = base - 1n; v <= base + BigInt(SIZE + 10); v++)
          assert.equal(a.contains(v), ma.has(v), `${ctx} contains`);
      }
    });
  }
});
