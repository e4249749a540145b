import assert from 'node:assert/strict';
import { diffPatch } from './patch.ts';
import { applyPatch } from './testing.ts';

describe('diffPatch', () => {
  it('adds, replaces and removes members, escaping keys', () => {
    const before = { metadata: { name: 'a', labels: { x: '1' }, finalizers: ['f'] }, spec: { ips: ['1'], gone: true } };
    const after = {
      metadata: { name: 'a', labels: { x: '1', 'ipam.spidernet.io/ippool-cidr': 'c' }, finalizers: ['f', 'g'] },
      spec: { ips: ['2'], ipVersion: 4 },
    };
    const patch = diffPatch(before, after);
    assert.deepEqual(patch, [
      { op: 'add', path: '/metadata/labels/ipam.spidernet.io~1ippool-cidr', value: 'c' },
      { op: 'add', path: '/metadata/finalizers', value: ['f', 'g'] },
      { op: 'remove', path: '/spec/gone' },
      { op: 'add', path: '/spec/ips', value: ['2'] },
      { op: 'add', path: '/spec/ipVersion', value: 4 },
    ]);
    assert.deepEqual(applyPatch(before, patch), after);
  });
  it('is empty when nothing changed, including members set to undefined', () => {
    assert.deepEqual(diffPatch({ a: { b: [1] } }, { a: { b: [1], c: undefined } }), []);
  });
  it('adds a whole missing parent', () => {
    assert.deepEqual(diffPatch({ metadata: {} }, { metadata: { labels: { a: 'b' } } }), [
      { op: 'add', path: '/metadata/labels', value: { a: 'b' } },
    ]);
  });
});
