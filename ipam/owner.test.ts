import assert from 'node:assert/strict';
import type { V1Job, V1OwnerReference, V1Pod, V1ReplicaSet, V1StatefulSet } from '@kubernetes/client-node';
import { isStatefulSet, isThirdParty, ordinalOf, statefulSetWants, topController, type OwnerReader } from './owner.ts';

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

/** Answers for ReplicaSets and Jobs by name, and remembers what was asked. */
const replicaSets = (owners: Record<string, V1OwnerReference[]>): OwnerReader & { asked: string[] } => {
  const asked: string[] = [];
  const read = async <T extends V1ReplicaSet | V1Job>(namespace: string, name: string, uid: string) => {
    asked.push(`${namespace}/${name}/${uid}`);
    const ownerReferences = owners[name];
    return ownerReferences ? ({ metadata: { name, uid, ownerReferences } } as T) : undefined;
  };
  return { asked, replicaSet: read<V1ReplicaSet>, job: read<V1Job> };
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

  it('topController: a Job controlled by a CronJob gives the CronJob as batch/v1, whichever version its reference names', async () => {
    for (const apiVersion of ['batch/v1', 'batch/v1beta1']) {
      const reader = replicaSets({ 'backup-27': [ref('CronJob', 'backup', { apiVersion })] });
      assert.deepEqual(await topController(pod(ref('Job', 'backup-27', { apiVersion: 'batch/v1' })), reader), {
        kind: 'CronJob',
        name: 'backup',
        namespace: 'ns',
        uid: 'backup-uid',
        apiVersion: 'batch/v1',
      });
      assert.deepEqual(reader.asked, ['ns/backup-27/backup-27-uid']);
    }
    const alone = await topController(pod(ref('Job', 'once', { apiVersion: 'batch/v1' })), replicaSets({}));
    assert.equal(alone.kind, 'Job');
  });

  it('topController: a third-party controller is taken from the owner reference without being read', async () => {
    const reader = replicaSets({});
    for (const [apiVersion, kind] of [
      ['apps.kruise.io/v1alpha1', 'CloneSet'],
      ['apps.kruise.io/v1beta1', 'StatefulSet'],
      ['kubevirt.io/v1', 'VirtualMachineInstance'],
    ] as const) {
      assert.deepEqual(await topController(pod(ref(kind, 'app', { apiVersion })), reader), {
        kind,
        name: 'app',
        namespace: 'ns',
        uid: 'app-uid',
        apiVersion,
      });
    }
    assert.deepEqual(reader.asked, []);
  });

  it('isThirdParty and isStatefulSet: by API version as well as kind', () => {
    const top = (apiVersion: string, kind: string) => ({ apiVersion, kind, name: 'a', namespace: 'ns', uid: 'u' });
    assert.equal(isThirdParty(top('apps.kruise.io/v1alpha1', 'CloneSet')), true);
    assert.equal(isThirdParty(top('apps.kruise.io/v1beta1', 'StatefulSet')), true);
    assert.equal(isThirdParty(top('kubevirt.io/v1', 'VirtualMachineInstance')), true);
    assert.equal(isThirdParty(top('batch/v1', 'CronJob')), false);
    assert.equal(isThirdParty(top('apps/v1', 'Deployment')), false);
    assert.equal(isThirdParty(top('v1', 'Pod')), false);
    assert.equal(isStatefulSet(top('apps/v1', 'StatefulSet')), true);
    assert.equal(isStatefulSet(top('apps.kruise.io/v1beta1', 'StatefulSet')), false);
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
