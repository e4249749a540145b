import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { SpiderSubnet } from '../../api/v2beta1/types.ts';
import { IPSet } from '../../lib/ip/index.ts';
import { carvableIPs, highest, lowest, resize, subnetIPs } from './carve.ts';

const set = (...ranges: string[]): IPSet => IPSet.fromRanges(ranges, 4);
const ranges = (s: IPSet): string[] => s.toRanges();

function subnet(spec: Partial<SpiderSubnet['spec']>): SpiderSubnet {
  return {
    apiVersion: 'spiderpool.spidernet.io/v2beta1',
    kind: 'SpiderSubnet',
    metadata: { name: 's' },
    spec: { subnet: '10.0.0.0/24', ...spec },
  };
}

/** A random set of addresses within 10.0.0.0/26, as values 0..63 offset into the /24. */
const smallSet = fc.uniqueArray(fc.integer({ min: 0, max: 63 }), { maxLength: 40 }).map((values) =>
  IPSet.fromValues(
    4,
    values.map((v) => 0x0a000000n + BigInt(v)),
  ),
);

describe('subnet carving', () => {
  it('the subnet offers ips − excludeIPs, and pools never get its gateway', () => {
    const s = subnet({ ips: ['10.0.0.1-10.0.0.20'], excludeIPs: ['10.0.0.5-10.0.0.6'], gateway: '10.0.0.1' });
    assert.deepEqual(ranges(subnetIPs(s)), ['10.0.0.1-10.0.0.4', '10.0.0.7-10.0.0.20']);
    assert.deepEqual(ranges(carvableIPs(s)), ['10.0.0.2-10.0.0.4', '10.0.0.7-10.0.0.20']);
    assert.ok(subnetIPs(subnet({})).isEmpty());
  });

  it('an IPv6 /64 is counted without being expanded', () => {
    const s = subnet({ subnet: 'fd00::/64', ips: ['fd00::1-fd00::ffff:ffff:ffff:ffff'] });
    assert.equal(subnetIPs(s).count(), (1n << 64n) - 1n);
    assert.deepEqual(lowest(subnetIPs(s), 3n).toRanges(), ['fd00::1-fd00::3']);
    assert.deepEqual(highest(subnetIPs(s), 2n).toRanges(), ['fd00::ffff:ffff:ffff:fffe-fd00::ffff:ffff:ffff:ffff']);
  });

  it('lowest and highest cross interval boundaries', () => {
    const s = set('10.0.0.1-10.0.0.2', '10.0.0.5', '10.0.0.8-10.0.0.9');
    assert.deepEqual(ranges(lowest(s, 3n)), ['10.0.0.1-10.0.0.2', '10.0.0.5']);
    assert.deepEqual(ranges(highest(s, 3n)), ['10.0.0.5', '10.0.0.8-10.0.0.9']);
    assert.deepEqual(ranges(lowest(s, 99n)), ranges(s));
    assert.ok(highest(s, 0n).isEmpty());
  });

  it('growing takes the lowest free addresses', () => {
    const r = resize(set('10.0.0.10-10.0.0.11'), 5, set('10.0.0.2', '10.0.0.12-10.0.0.30'), IPSet.empty(4));
    assert.ok(r.ok);
    assert.deepEqual(ranges(r.ips), ['10.0.0.2', '10.0.0.10-10.0.0.13']);
  });

  it('growing beyond the free addresses says how many are missing and how many are left', () => {
    assert.deepEqual(resize(set('10.0.0.1'), 6, set('10.0.0.2-10.0.0.4'), IPSet.empty(4)), {
      ok: false,
      reason: 'exhausted',
      missing: 5n,
      free: 3n,
    });
  });

  it('shrinking drops the highest unallocated addresses and keeps the allocated ones', () => {
    const r = resize(set('10.0.0.1-10.0.0.6'), 3, IPSet.empty(4), set('10.0.0.5-10.0.0.6'));
    assert.ok(r.ok);
    assert.deepEqual(ranges(r.ips), ['10.0.0.1', '10.0.0.5-10.0.0.6']);
  });

  it('shrinking waits when pods hold more addresses than the new size allows', () => {
    assert.deepEqual(resize(set('10.0.0.1-10.0.0.6'), 2, IPSet.empty(4), set('10.0.0.1-10.0.0.5')), {
      ok: false,
      reason: 'in-use',
      excess: 4n,
      free: 1n,
    });
  });

  it('any resize keeps allocated addresses, never takes an address that is not free, and reaches the size when it succeeds', () => {
    fc.assert(
      fc.property(smallSet, smallSet, smallSet, fc.integer({ min: 0, max: 70 }), (held, freeRaw, allocRaw, size) => {
        const allocated = allocRaw.intersect(held);
        const free = freeRaw.subtract(held);
        const r = resize(held, size, free, allocated);
        if (!r.ok) {
          if (r.reason === 'exhausted') assert.ok(free.count() < BigInt(size) - held.count());
          else assert.ok(held.subtract(allocated).count() < held.count() - BigInt(size));
          return;
        }
        assert.equal(r.ips.count(), BigInt(size));
        assert.ok(r.ips.containsSet(allocated), 'allocated addresses stay');
        assert.ok(held.union(free).containsSet(r.ips), 'only held or free addresses');
        if (BigInt(size) >= held.count()) {
          assert.ok(r.ips.containsSet(held), 'growing keeps everything held');
          assert.ok(
            r.ips.subtract(held).equals(lowest(free, BigInt(size) - held.count())),
            'growing takes the lowest free',
          );
        } else {
          assert.ok(held.containsSet(r.ips), 'shrinking only removes');
          const dropped = held.subtract(r.ips);
          const kept = held.subtract(allocated).subtract(dropped);
          const maxKept = kept.intervals[kept.intervals.length - 1]?.end ?? -1n;
          assert.ok(
            dropped.intervals.every((iv) => iv.start > maxKept),
            'shrinking drops the highest unallocated',
          );
        }
      }),
    );
  });
});
