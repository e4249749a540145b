import assert from 'node:assert/strict';
import type { SpiderIPPool, SpiderReservedIP } from '../api/v2beta1/types.ts';
import { IPSet } from '../lib/ip/index.ts';
import { poolUsage, reservedSet } from './usage.ts';

const pool = (spec: Partial<SpiderIPPool['spec']>, allocated: Record<string, unknown> = {}): SpiderIPPool => ({
  apiVersion: 'spiderpool.spidernet.io/v2beta1',
  kind: 'SpiderIPPool',
  metadata: { name: 'p' },
  spec: { subnet: '10.6.0.0/24', ...spec },
  status: { allocatedIPs: JSON.stringify(allocated), allocatedIPCount: Object.keys(allocated).length },
});

const reserved = (ips: string[]): SpiderReservedIP => ({
  apiVersion: 'spiderpool.spidernet.io/v2beta1',
  kind: 'SpiderReservedIP',
  metadata: { name: 'r' },
  spec: { ips },
});

describe('poolUsage', () => {
  it('counts free addresses, the longest free run and the runs, without the gateway, exclusions and reserved', () => {
    const usage = poolUsage(
      pool(
        { ips: ['10.6.0.1-10.6.0.20'], gateway: '10.6.0.1', excludeIPs: ['10.6.0.15'] },
        { '10.6.0.5': { pod: 'ns/a', podUid: 'u1' }, 'not-an-ip': 'junk', '10.6.0.6': 'malformed but taken' },
      ),
      reservedSet([reserved(['10.6.0.10-10.6.0.11']), reserved(['fd00::1'])], 4),
    );
    // 20 − gateway − excluded − 2 reserved = 16 usable; .5 recorded and .6 blocked by a malformed entry.
    assert.equal(usage.total, 16n);
    assert.equal(usage.allocated, 2n);
    assert.deepEqual(usage.free.toRanges(), [
      '10.6.0.2-10.6.0.4',
      '10.6.0.7-10.6.0.9',
      '10.6.0.12-10.6.0.14',
      '10.6.0.16-10.6.0.20',
    ]);
    assert.deepEqual(usage.largestFree, { first: '10.6.0.16', last: '10.6.0.20', size: 5n });
    assert.equal(usage.freeRuns, 4);
  });

  it('works on an IPv6 /64 without listing it', () => {
    const usage = poolUsage(pool({ subnet: 'fd00::/64', ips: ['fd00::1-fd00::ffff:ffff:ffff:ffff'] }), IPSet.empty(6));
    assert.equal(usage.free.count(), 2n ** 64n - 1n);
    assert.equal(usage.freeRuns, 1);
  });

  it('has no largest free range when the pool is full', () => {
    const usage = poolUsage(pool({ ips: ['10.6.0.9'] }, { '10.6.0.9': { pod: 'ns/a', podUid: 'u1' } }), IPSet.empty(4));
    assert.equal(usage.largestFree, undefined);
    assert.equal(usage.freeRuns, 0);
  });
});
