import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import { ANNOTATION } from '../../api/v2beta1/constants.ts';
import { PendingPods } from './pending-pods.ts';

const pod = (name: string, ipv4: string[], extra: Partial<V1Pod> = {}): V1Pod => ({
  metadata: { name, namespace: 'ns', annotations: { [ANNOTATION.ippool]: JSON.stringify({ ipv4 }) } },
  status: { phase: 'Pending' },
  ...extra,
});

describe('PendingPods', () => {
  it('finds the waiting pods naming a pool literally or by pattern, per family', () => {
    const index = PendingPods.of([pod('a', ['p1']), pod('b', ['p*']), pod('c', ['q'])]);
    assert.deepEqual([...index.naming(4, ['p1'])].sort(), ['ns/a', 'ns/b']);
    assert.deepEqual([...index.naming(4, ['q'])], ['ns/c']);
    assert.deepEqual([...index.naming(6, ['p1'])], []);
  });

  it('forgets a pod that starts running, terminates or goes away, and follows changed annotations', () => {
    const index = PendingPods.of([pod('a', ['p1']), pod('b', ['p1']), pod('c', ['p1'])]);
    index.set('ns/a', pod('a', ['p1'], { status: { phase: 'Running' } }));
    index.set('ns/b', {
      ...pod('b', ['p1']),
      metadata: { ...pod('b', ['p1']).metadata, deletionTimestamp: new Date() },
    });
    index.set('ns/c', pod('c', ['p2']));
    assert.deepEqual([...index.naming(4, ['p1'])], []);
    assert.deepEqual([...index.naming(4, ['p2'])], ['ns/c']);
    index.set('ns/c', undefined);
    assert.deepEqual([...index.naming(4, ['p2'])], []);
  });

  it('ignores malformed annotations and patterns', () => {
    const bad: V1Pod = { metadata: { name: 'x', namespace: 'ns', annotations: { [ANNOTATION.ippool]: '{' } } };
    const index = PendingPods.of([bad, pod('y', ['a[]*'])]);
    assert.deepEqual([...index.naming(4, ['a', 'ab'])], []);
  });
});
