import assert from 'node:assert/strict';
import type { V1OwnerReference, V1Pod, V1ReplicaSet, V1StatefulSet } from '@kubernetes/client-node';
import { ordinalOf, statefulSetWants, topController, type ReplicaSetReader } from './owner.ts';

const ref = (kind: string, name: string, over: Partial<V1OwnerReference> = {}): V1OwnerReference => ({
  apiVersion: 'apps/v1',
  kind,
  name,
  uid: `${name}-uid`,
  controller: true,
  ...over,
});

const pod = (...ownerReferences: V1OwnerReference[]): V1Pod => ({
  metadata: { name: 'nginx-7d9c-abcde', namespace: 'ns', uid: 'pod-uid', ownerReferences },
});

/** Answers for ReplicaSets by name, and remembers what was asked. */
const replicaSets = (owners: Record<string, V1OwnerReference[]>): ReplicaSetReader & { asked: string[] } => {
  const asked: string[] = [];
  return {
    asked,
    replicaSet: async (namespace, name, uid) => {
      asked.push(`${namespace}/${name}/${uid}`);
      const ownerReferences = owners[name];
      return ownerReferences ? ({ metadata: { name, uid, ownerReferences } } as V1ReplicaSet) : undefined;
    },
  };
};

const set = (replicas: number, over: { start?: number; deleting?: boolean } = {}): V1StatefulSet => ({
  metadata: { name: 'web', namespace: 'ns', ...(over.deleting ? { deletionTimestamp: new Date() } : {}) },
  spec: {
    replicas,
    selector: {},
    serviceName: 'web',
    template: {},
    ...(over.start !== undefined ? { ordinals: { start: over.start } } : {}),
  },
});

describe('pod ownership', () => {
  it('topController: a pod without a controller is its own top controller', async () => {
    const top = await topController(pod(ref('StatefulSet', 'web', { controller: false })), replicaSets({}));
    assert.deepEqual(top, { kind: 'Pod', name: 'nginx-7d9c-abcde', namespace: 'ns', uid: 'pod-uid', apiVersion: 'v1' });
  });

  it('topController: a ReplicaSet controlled by a Deployment gives the Deployment', async () => {
    const reader = replicaSets({ 'nginx-7d9c': [ref('Deployment', 'nginx')] });
    const top = await topController(pod(ref('ReplicaSet', 'nginx-7d9c')), reader);
    assert.deepEqual(top, {
      kind: 'Deployment',
      name: 'nginx',
      namespace: 'ns',
      uid: 'nginx-uid',
      apiVersion: 'apps/v1',
    });
    assert.deepEqual(reader.asked, ['ns/nginx-7d9c/nginx-7d9c-uid']);
  });

  it('topController: a ReplicaSet that is gone or has no Deployment stays the top controller', async () => {
    const expected = {
      kind: 'ReplicaSet',
      name: 'nginx-7d9c',
      namespace: 'ns',
      uid: 'nginx-7d9c-uid',
      apiVersion: 'apps/v1',
    };
    assert.deepEqual(await topController(pod(ref('ReplicaSet', 'nginx-7d9c')), replicaSets({})), expected);
    assert.deepEqual(
      await topController(
        pod(ref('ReplicaSet', 'nginx-7d9c')),
        replicaSets({ 'nginx-7d9c': [ref('Deployment', 'nginx', { controller: false })] }),
      ),
      expected,
    );
  });

  it('topController: other controllers are not looked up', async () => {
    const reader = replicaSets({});
    assert.deepEqual(await topController(pod(ref('StatefulSet', 'web')), reader), {
      kind: 'StatefulSet',
      name: 'web',
      namespace: 'ns',
      uid: 'web-uid',
      apiVersion: 'apps/v1',
    });
    assert.equal(
      (await topController(pod(ref('ReplicaSet', 'rs', { apiVersion: 'example.com/v1' })), reader)).kind,
      'ReplicaSet',
    );
    assert.deepEqual(reader.asked, []);
  });

  it('ordinalOf: the number after the set name only', () => {
    assert.equal(ordinalOf('web-12', 'web'), 12);
    assert.equal(ordinalOf('web-a-0', 'web-a'), 0);
    assert.equal(ordinalOf('web-a-0', 'web'), undefined);
    assert.equal(ordinalOf('web', 'web'), undefined);
  });

  it('statefulSetWants: name, replicas, start and deletion', () => {
    assert.equal(statefulSetWants(set(2), 'web-1'), true);
    assert.equal(statefulSetWants(set(2), 'web-2'), false);
    assert.equal(statefulSetWants(set(2), 'webx-1'), false);
    assert.equal(statefulSetWants(set(2), 'web'), false);
    assert.equal(statefulSetWants(set(0), 'web-0'), false);
    assert.equal(statefulSetWants(set(2, { deleting: true }), 'web-0'), false);
    assert.equal(statefulSetWants(undefined, 'web-0'), false);
  });

  it('statefulSetWants: ordinals count from spec.ordinals.start', () => {
    assert.equal(statefulSetWants(set(2, { start: 3 }), 'web-2'), false);
    assert.equal(statefulSetWants(set(2, { start: 3 }), 'web-4'), true);
    assert.equal(statefulSetWants(set(2, { start: 3 }), 'web-5'), false);
  });
});
