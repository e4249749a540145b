import assert from 'node:assert/strict';
import type { SpiderIPPool } from '../../api/v2beta1/types.ts';
import { findOverlaps, overlapsOf } from './overlap.ts';

const pool = (name: string, spec: Partial<SpiderIPPool['spec']>): SpiderIPPool => ({
  metadata: { name },
  spec: { subnet: '10.6.0.0/16', ...spec },
});

describe('ippool/overlap', () => {
  it('overlapping-pools-flagged: names each pool that shares addresses with another, and the shared ranges', () => {
    const found = findOverlaps([
      pool('a', { ips: ['10.6.0.10-10.6.0.20'] }),
      pool('b', { ips: ['10.6.0.15-10.6.0.30'], excludeIPs: ['10.6.0.16'] }),
      pool('c', { ips: ['10.6.0.40'] }),
      pool('d', { ips: ['10.6.0.1-10.6.0.100'], excludeIPs: ['10.6.0.1-10.6.0.29'] }),
      pool('v6', { subnet: 'fd00::/64', ips: ['fd00::a-fd00::ff'] }),
      pool('broken', { ips: ['not-an-ip'] }),
    ]);
    assert.deepEqual(Object.fromEntries(found), {
      a: [{ pool: 'b', shared: ['10.6.0.15', '10.6.0.17-10.6.0.20'] }],
      b: [
        { pool: 'a', shared: ['10.6.0.15', '10.6.0.17-10.6.0.20'] },
        { pool: 'd', shared: ['10.6.0.30'] },
      ],
      c: [{ pool: 'd', shared: ['10.6.0.40'] }],
      d: [
        { pool: 'b', shared: ['10.6.0.30'] },
        { pool: 'c', shared: ['10.6.0.40'] },
      ],
    });
  });

  it('pools of different families or disjoint ranges do not overlap', () => {
    const found = findOverlaps([
      pool('a', { ips: ['10.6.0.10-10.6.0.20'] }),
      pool('b', { ips: ['10.6.0.21-10.6.0.30'] }),
      pool('v6', { subnet: '::/64', ips: ['::a-::14'], ipVersion: 6 }),
    ]);
    assert.equal(found.size, 0);
  });

  it('computes the overlaps again only when a pool is added, removed, recreated or its spec changes', () => {
    const at = (name: string, generation: number, ips: string, uid = `uid-${name}`): SpiderIPPool => ({
      metadata: { name, uid, generation, resourceVersion: String(Math.random()) },
      spec: { subnet: '10.6.0.0/16', ips: [ips] },
    });
    let cached = [at('a', 1, '10.6.0.10-10.6.0.20'), at('b', 1, '10.6.0.15')];
    const overlaps = overlapsOf({ list: () => cached, get: () => undefined });
    const first = overlaps();
    assert.deepEqual([...first.keys()], ['a', 'b']);
    cached = cached.map((p) => ({ ...p, metadata: { ...p.metadata, resourceVersion: 'status-write' } }));
    assert.equal(overlaps(), first, 'a status write changes no spec');
    cached = [cached[0]!, at('b', 2, '10.6.0.30')];
    assert.equal(overlaps().size, 0, 'a new generation');
    cached = [...cached, at('c', 1, '10.6.0.30')];
    assert.deepEqual([...overlaps().keys()], ['b', 'c'], 'a new pool');
    cached = [cached[0]!, cached[1]!];
    assert.equal(overlaps().size, 0, 'a pool removed');
    cached = [...cached, at('c', 1, '10.6.0.40')];
    assert.equal(overlaps().size, 0);
    cached = [cached[0]!, cached[1]!, at('c', 1, '10.6.0.30', 'uid-c2')];
    assert.deepEqual([...overlaps().keys()], ['b', 'c'], 'a pool recreated under its name, at the same generation');
  });
});
