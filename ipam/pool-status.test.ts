import assert from 'node:assert/strict';
import type { SpiderIPPool } from '../api/v2beta1/types.ts';
import { IPSet } from '../lib/ip/index.ts';
import { applyOps, withoutRecords, type AllocationRules } from './pool-status.ts';
import { parseRecords } from './records.ts';

const pool = (
  records: Record<string, { pod: string; podUid: string; nic?: string }>,
  spec: Partial<SpiderIPPool['spec']> = {},
): SpiderIPPool => ({
  metadata: { name: 'p4', resourceVersion: '1' },
  spec: { subnet: '10.0.0.0/24', ips: ['10.0.0.1-10.0.0.100'], ...spec },
  status: { allocatedIPs: JSON.stringify(records), allocatedIPCount: Object.keys(records).length },
});

const rules: AllocationRules = { reserved: () => IPSet.empty(4) };

describe('pool status computation', () => {
  it('applyOps: releases and rebinds first, then allocates the lowest free addresses, outcomes in op order', () => {
    const p = pool({ '10.0.0.1': { pod: 'ns/a', podUid: 'a' }, '10.0.0.2': { pod: 'ns/web-0', podUid: 'old' } });
    const update = applyOps(
      p,
      [
        { kind: 'allocate', pod: 'ns/c', podUid: 'c', nic: 'eth0' },
        { kind: 'release', ip: '10.0.0.1', podUid: 'a' },
        { kind: 'rebind', ip: '10.0.0.2', pod: 'ns/web-0', podUid: 'new' },
      ],
      rules,
    );
    assert.deepEqual(update.outcomes, [
      { kind: 'done', ip: '10.0.0.1', changed: true },
      { kind: 'done', ip: '10.0.0.1', changed: true },
      { kind: 'done', ip: '10.0.0.2', changed: true },
    ]);
    assert.equal(update.changed, true);
    assert.deepEqual(Object.fromEntries(parseRecords(update.pool)), {
      '10.0.0.1': { pod: 'ns/c', podUid: 'c', nic: 'eth0' },
      '10.0.0.2': { pod: 'ns/web-0', podUid: 'new' },
    });
    assert.equal(update.pool.status?.allocatedIPCount, 2);
    assert.equal(parseRecords(p).get('10.0.0.1')?.pod, 'ns/a', 'the input is not modified');
  });

  it('applyOps: a UID keeps its address per NIC, and a record without a NIC counts for every NIC', () => {
    const p = pool({ '10.0.0.1': { pod: 'ns/a', podUid: 'a', nic: 'eth0' }, '10.0.0.2': { pod: 'ns/b', podUid: 'b' } });
    const update = applyOps(
      p,
      [
        { kind: 'allocate', pod: 'ns/a', podUid: 'a', nic: 'eth0' },
        { kind: 'allocate', pod: 'ns/a', podUid: 'a', nic: 'net1' },
        { kind: 'allocate', pod: 'ns/b', podUid: 'b', nic: 'net1' },
      ],
      rules,
    );
    assert.deepEqual(update.outcomes, [
      { kind: 'done', ip: '10.0.0.1', changed: false },
      { kind: 'done', ip: '10.0.0.3', changed: true },
      { kind: 'done', ip: '10.0.0.2', changed: false },
    ]);
  });

  it('applyOps: nothing to write when nothing changed and the count is right', () => {
    const p = pool({ '10.0.0.1': { pod: 'ns/a', podUid: 'a' } });
    const update = applyOps(
      p,
      [
        { kind: 'release', ip: '10.0.0.1', podUid: 'other' },
        { kind: 'rebind', ip: '10.0.0.1', pod: 'ns/a', podUid: 'a' },
      ],
      rules,
    );
    assert.equal(update.changed, false);
    assert.deepEqual(update.outcomes, [
      { kind: 'done', ip: '10.0.0.1', changed: false },
      { kind: 'done', ip: '10.0.0.1', changed: false },
    ]);
  });

  it('applyOps: a wrong allocatedIPCount alone makes a write', () => {
    const p = {
      ...pool({ '10.0.0.1': { pod: 'ns/a', podUid: 'a' } }),
      status: { allocatedIPs: JSON.stringify({ '10.0.0.1': { pod: 'ns/a', podUid: 'a' } }) },
    };
    const update = applyOps(p, [], rules);
    assert.equal(update.changed, true);
    assert.equal(update.pool.status?.allocatedIPCount, 1);
  });

  it('applyOps: refuses a rebind of an address another pod holds, and says who holds it', () => {
    const update = applyOps(
      pool({ '10.0.0.1': { pod: 'ns/other', podUid: 'o' } }),
      [{ kind: 'rebind', ip: '10.0.0.1', pod: 'ns/web-0', podUid: 'new' }],
      rules,
    );
    assert.deepEqual(update.outcomes, [{ kind: 'taken', ip: '10.0.0.1', holder: 'ns/other', wanted: 'ns/web-0' }]);
    assert.equal(update.changed, false);
  });

  it('applyOps: skips reserved addresses and says why a pool is exhausted', () => {
    const p = pool({}, { ips: ['10.0.0.1-10.0.0.3'] });
    const allocate = (n: string) => ({ kind: 'allocate' as const, pod: `ns/${n}`, podUid: n, nic: 'eth0' });
    const full = applyOps(p, ['a', 'b', 'c'].map(allocate), { reserved: () => IPSet.fromRanges(['10.0.0.2']) });
    assert.deepEqual(full.outcomes, [
      { kind: 'done', ip: '10.0.0.1', changed: true },
      { kind: 'done', ip: '10.0.0.3', changed: true },
      { kind: 'exhausted', detail: '2 allocated, none free' },
    ]);
    const capped = applyOps(p, ['a', 'b'].map(allocate), { ...rules, maxRecords: 1 });
    assert.deepEqual(capped.outcomes[1], { kind: 'exhausted', detail: 'the limit of 1 records is reached' });
  });

  it('withoutRecords: removes only records that still hold the given pod UID and recounts', () => {
    const p = pool({
      '10.0.0.1': { pod: 'ns/a', podUid: 'u1' },
      '10.0.0.2': { pod: 'ns/b', podUid: 'u2' },
      '10.0.0.3': { pod: 'ns/c', podUid: 'u3' },
    });
    const { pool: next, removed } = withoutRecords(p, [
      { ip: '10.0.0.1', podUid: 'u1' },
      { ip: '10.0.0.2', podUid: 'other' },
      { ip: '10.0.0.9', podUid: 'u9' },
    ]);
    assert.deepEqual(removed, ['10.0.0.1']);
    assert.deepEqual([...parseRecords(next).keys()], ['10.0.0.2', '10.0.0.3']);
    assert.equal(next.status?.allocatedIPCount, 2);
    assert.equal(parseRecords(p).size, 3, 'the input is not modified');
  });

  it('withoutRecords: drops allocatedIPs when the last record goes', () => {
    const { pool: next } = withoutRecords(pool({ '10.0.0.1': { pod: 'ns/a', podUid: 'u1' } }), [
      { ip: '10.0.0.1', podUid: 'u1' },
    ]);
    assert.equal(next.status?.allocatedIPs, undefined);
    assert.equal(next.status?.allocatedIPCount, 0);
  });

  it("applyOps: an exclusive rebind takes only a free address or its own UID's, never a malformed or another pool's", () => {
    const p: SpiderIPPool = {
      ...pool({ '10.0.0.1': { pod: 'ns/a', podUid: 'old' }, '10.0.0.2': { pod: 'ns/a', podUid: 'a' } }),
    };
    p.status!.allocatedIPs = p.status!.allocatedIPs!.replace('{', '{"10.0.0.3":{"pod":""},');
    const rebind = (ip: string) => ({ kind: 'rebind' as const, ip, pod: 'ns/a', podUid: 'a', exclusive: true });
    const update = applyOps(p, ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5'].map(rebind), {
      ...rules,
      elsewhere: () => IPSet.fromRanges(['10.0.0.4']),
    });
    assert.deepEqual(update.outcomes, [
      { kind: 'taken', ip: '10.0.0.1', holder: 'UID old', wanted: 'ns/a' },
      { kind: 'done', ip: '10.0.0.2', changed: false },
      { kind: 'taken', ip: '10.0.0.3', holder: 'a malformed record', wanted: 'ns/a' },
      { kind: 'taken', ip: '10.0.0.4', holder: 'another IPPool that covers it', wanted: 'ns/a' },
      { kind: 'done', ip: '10.0.0.5', changed: true },
    ]);
    assert.equal(update.problems.length, 1);
    assert.match(update.pool.status!.allocatedIPs!, /^\{"10\.0\.0\.3":\{"pod":""\},/, 'the malformed entry is kept');
  });
});
