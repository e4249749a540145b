import assert from 'node:assert/strict';
import type { KubernetesObject } from '@kubernetes/client-node';
import { Store } from './store.ts';

const obj = (name: string, rv: string, namespace?: string): KubernetesObject => ({
  metadata: { name, namespace, resourceVersion: rv },
});

describe('Store', () => {
  it('replace reports new, changed and vanished objects, and not unchanged ones', () => {
    const store = new Store();
    store.replace([obj('a', '1'), obj('b', '1'), obj('c', '1')]);
    const changes = store.replace([obj('a', '1'), obj('b', '2'), obj('d', '1')]);
    const summary = changes.map((c) => `${c.key}:${c.before ? 'had' : 'new'}:${c.after ? 'has' : 'gone'}`).sort();
    assert.deepEqual(summary, ['b:had:has', 'c:had:gone', 'd:new:has']);
    assert.deepEqual(store.keys().sort(), ['a', 'b', 'd']);
  });

  it('keys namespaced objects as namespace/name and lists by namespace', () => {
    const store = new Store();
    store.put(obj('x', '1', 'ns1'));
    store.put(obj('x', '1', 'ns2'));
    assert.ok(store.get('ns1/x'));
    assert.equal(store.list('ns2').length, 1);
    assert.equal(store.list().length, 2);
    assert.equal(store.remove(obj('x', '2', 'ns1'))?.key, 'ns1/x');
    assert.equal(store.remove(obj('x', '2', 'ns1')), undefined);
  });
});
