import assert from 'node:assert/strict';
import {
  type AdmittedWrite,
  HORIZON_MS,
  MAX_NOTES,
  admittedWrite,
  pendingNotes,
  reflects,
  withNotes,
} from './admitted-writes.ts';
import type { AdmissionRequest } from './types.ts';

const NOW = 1_000_000_000;
const kind = { group: 'spiderpool.spidernet.io', version: 'v2beta1', kind: 'SpiderIPPool' };
const resource = { group: kind.group, version: kind.version, resource: 'spiderippools' };
const meta = (uid: string, generation: number) => ({ metadata: { name: 'p', uid, generation } });
const request = (r: Partial<AdmissionRequest>): AdmissionRequest => ({
  uid: 'r',
  kind,
  resource,
  operation: 'CREATE',
  ...r,
});
const note = (uid: string, at: number, more: Partial<AdmittedWrite> = {}): AdmittedWrite => ({
  kind: 'SpiderIPPool',
  name: `pool-${uid}`,
  uid,
  generation: 1,
  at,
  ...more,
});

describe('the record of admitted writes', () => {
  it('notes creates, spec updates and deletes, but not dry runs or updates that leave the spec alone', () => {
    assert.deepEqual(admittedWrite(request({ object: meta('u1', 1) }), NOW), {
      kind: 'SpiderIPPool',
      name: 'p',
      uid: 'u1',
      generation: 1,
      at: NOW,
    });
    assert.equal(admittedWrite(request({ object: meta('u1', 1), dryRun: true }), NOW), undefined);
    const update = (from: number, to: number) =>
      admittedWrite(request({ operation: 'UPDATE', oldObject: meta('u1', from), object: meta('u1', to) }), NOW);
    assert.equal(update(3, 3), undefined);
    assert.equal(update(3, 4)?.generation, 4);
    assert.deepEqual(admittedWrite(request({ operation: 'DELETE', oldObject: meta('u1', 4) }), NOW), {
      kind: 'SpiderIPPool',
      name: 'p',
      uid: 'u1',
      generation: 0,
      deleted: true,
      at: NOW,
    });
  });

  it('keeps notes for the horizon, drops those a delete supersedes, and marks itself incomplete past its size', () => {
    const old = {
      writes: [note('a', NOW - HORIZON_MS - 1), note('b', NOW - 10), note('c', NOW - 5)],
      incompleteUntil: 0,
      since: 0,
    };
    const next = withNotes(old, [note('c', NOW, { deleted: true, generation: 0 })], NOW);
    assert.deepEqual(
      next.writes.map((w) => [w.uid, w.deleted ?? false]),
      [
        ['b', false],
        ['c', true],
      ],
    );
    assert.equal(next.incompleteUntil, 0);
    assert.equal(next.since, 0);
    const full = withNotes(
      next,
      Array.from({ length: MAX_NOTES }, (_, i) => note(`n${i}`, NOW)),
      NOW,
    );
    assert.equal(full.writes.length, MAX_NOTES);
    assert.equal(full.incompleteUntil, NOW + HORIZON_MS);
    assert.equal(pendingNotes(full, NOW + 1), undefined, 'an incomplete record vouches for nothing');
    assert.ok(pendingNotes(full, NOW + HORIZON_MS), 'once the dropped notes have aged out, it vouches again');
  });

  it('vouches for caches only once it is older than the horizon, and asks only for notes within it', () => {
    const record = {
      writes: [note('a', NOW - HORIZON_MS), note('b', NOW - 1)],
      incompleteUntil: 0,
      since: NOW - HORIZON_MS,
    };
    assert.equal(pendingNotes(undefined, NOW), undefined);
    assert.equal(pendingNotes({ ...record, since: NOW - HORIZON_MS + 1 }, NOW), undefined);
    assert.deepEqual(
      pendingNotes(record, NOW)?.map((w) => w.uid),
      ['b'],
    );
  });

  it('is reflected by a cache that holds the object at that generation, or no longer holds a deleted one', () => {
    const cached = (uid: string, generation: number, deletionTimestamp?: string) => ({
      metadata: { uid, generation, ...(deletionTimestamp ? { deletionTimestamp } : {}) },
    });
    const created = note('a', NOW, { generation: 2 });
    assert.equal(reflects(created, undefined), false);
    assert.equal(reflects(created, cached('a', 1)), false);
    assert.equal(reflects(created, cached('other', 5)), false, 'a different object of the same name');
    assert.equal(reflects(created, cached('a', 2)), true);
    assert.equal(reflects(created, cached('a', 1, 'now')), true, 'terminating: no later spec change can matter');
    const deleted = note('a', NOW, { deleted: true, generation: 0 });
    assert.equal(reflects(deleted, cached('a', 2)), false);
    assert.equal(reflects(deleted, cached('a', 2, 'now')), true);
    assert.equal(reflects(deleted, undefined), true);
    assert.equal(reflects(deleted, cached('b', 1)), true);
  });
});
