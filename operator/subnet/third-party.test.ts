import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import type { SpiderIPPool } from '../../api/v2beta1/types.ts';
import {
  parseThirdPartyKey,
  podsOf,
  thirdPartyApplication,
  thirdPartyKey,
  thirdPartyOfPod,
  thirdPartyOfPool,
} from './third-party.ts';

const SUBNET = { 'ipam.spidernet.io/subnet': '{"ipv4":["s4"]}' };
const pod = (apiVersion: string, kind: string, annotations: Record<string, string> = SUBNET, hostNetwork = false) =>
  ({
    metadata: {
      name: 'web-abcde',
      namespace: 'ns',
      annotations,
      ownerReferences: [{ apiVersion, kind, name: 'web', uid: 'app-uid', controller: true }],
    },
    spec: { hostNetwork, containers: [] },
  }) as V1Pod;
const ref = { group: 'apps.kruise.io', version: 'v1alpha1', kind: 'CloneSet', namespace: 'ns', name: 'web' };

describe('third-party applications', () => {
  it('a pod asking for a subnet names its third-party controller; Kubernetes workloads and host-network pods do not', () => {
    assert.deepEqual(thirdPartyOfPod(pod('apps.kruise.io/v1alpha1', 'CloneSet')), ref);
    assert.equal(thirdPartyOfPod(pod('apps/v1', 'StatefulSet')), undefined);
    assert.equal(thirdPartyOfPod(pod('batch/v1', 'Job')), undefined);
    assert.equal(thirdPartyOfPod(pod('apps.kruise.io/v1alpha1', 'CloneSet', {})), undefined);
    assert.equal(thirdPartyOfPod(pod('apps.kruise.io/v1alpha1', 'CloneSet', SUBNET, true)), undefined);
  });

  it('the key round-trips; a pool names its application by its labels', () => {
    assert.equal(thirdPartyKey(ref), 'apps.kruise.io/v1alpha1/CloneSet/ns/web');
    assert.deepEqual(parseThirdPartyKey(thirdPartyKey(ref)), ref);
    assert.equal(parseThirdPartyKey('CloneSet/ns/web'), undefined);
    const labels = (gv: string, kind: string) =>
      ({
        metadata: {
          name: 'p',
          labels: {
            'ipam.spidernet.io/owner-application-gv': gv,
            'ipam.spidernet.io/owner-application-kind': kind,
            'ipam.spidernet.io/owner-application-namespace': 'ns',
            'ipam.spidernet.io/owner-application-name': 'web',
          },
        },
        spec: { subnet: '10.0.0.0/24' },
      }) as SpiderIPPool;
    assert.deepEqual(thirdPartyOfPool(labels('apps.kruise.io_v1alpha1', 'CloneSet')), ref);
    assert.equal(thirdPartyOfPool(labels('apps_v1', 'Deployment')), undefined);
  });

  it('sized only by a fixed ippool-ip-number, read from a pod of the application', () => {
    const obj = { metadata: { name: 'web', uid: 'app-uid' } };
    const fixed = pod('apps.kruise.io/v1alpha1', 'CloneSet', { ...SUBNET, 'ipam.spidernet.io/ippool-ip-number': '5' });
    const app = thirdPartyApplication(ref, obj, fixed);
    assert.equal(app?.replicas, 5);
    assert.equal(app?.apiVersion, 'apps.kruise.io/v1alpha1');
    assert.equal(app?.uid, 'app-uid');
    const flexible = pod('apps.kruise.io/v1alpha1', 'CloneSet', {
      ...SUBNET,
      'ipam.spidernet.io/ippool-ip-number': '+1',
    });
    assert.equal(thirdPartyApplication(ref, obj, flexible), undefined);
    assert.equal(thirdPartyApplication(ref, obj, pod('apps.kruise.io/v1alpha1', 'CloneSet')), undefined);
    assert.deepEqual(podsOf([fixed, pod('apps/v1', 'ReplicaSet')], obj).length, 2);
    assert.deepEqual(podsOf([fixed], { metadata: { uid: 'other' } }), []);
  });
});
