import assert from 'node:assert/strict';
import { MULTUS_ANNOTATION } from '../../api/v2beta1/constants.ts';
import type { NetworkAttachmentDefinition, SpiderMultusConfig } from '../../api/v2beta1/types.ts';
import { InvalidMultusConfigError } from './nad-config.ts';
import { controllingSmc, desiredNad, nadDrift, withDesiredContent } from './nad.ts';

const smc = (
  over: Partial<SpiderMultusConfig['metadata']> = {},
  spec: SpiderMultusConfig['spec'] = { cniType: 'macvlan', macvlan: { master: ['ens192'] } },
): SpiderMultusConfig => ({
  apiVersion: 'spiderpool.spidernet.io/v2beta1',
  kind: 'SpiderMultusConfig',
  metadata: { name: 'macvlan-ens192', namespace: 'default', uid: 'smc-uid', resourceVersion: '7', ...over },
  spec,
});

const owner = {
  apiVersion: 'spiderpool.spidernet.io/v2beta1',
  kind: 'SpiderMultusConfig',
  name: 'macvlan-ens192',
  uid: 'smc-uid',
  controller: true,
  blockOwnerDeletion: true,
};

describe('desired NetworkAttachmentDefinition', () => {
  it('lives next to its SpiderMultusConfig, is controlled by it and carries the generated config', () => {
    const nad = desiredNad(smc());
    assert.equal(nad.apiVersion, 'k8s.cni.cncf.io/v1');
    assert.equal(nad.kind, 'NetworkAttachmentDefinition');
    assert.equal(nad.metadata.name, 'macvlan-ens192');
    assert.equal(nad.metadata.namespace, 'default');
    assert.deepEqual(nad.metadata.ownerReferences, [owner]);
    assert.equal(JSON.parse(nad.spec?.config as string).plugins[0].type, 'macvlan');
  });

  it("is named by multus.spidernet.io/cr-name and copies annotations and labels, but not kubectl's last-applied record", () => {
    const nad = desiredNad(
      smc({
        annotations: {
          'multus.spidernet.io/cr-name': 'k8s-pod-network',
          'kubectl.kubernetes.io/last-applied-configuration': '{"kind":"SpiderMultusConfig"}',
          'example.com/team': 'net',
        },
        labels: { 'cni.spidernet.io/rdma-resource-inject': 'gpu' },
      }),
    );
    assert.equal(nad.metadata.name, 'k8s-pod-network');
    assert.deepEqual(nad.metadata.annotations, {
      'multus.spidernet.io/cr-name': 'k8s-pod-network',
      'example.com/team': 'net',
    });
    assert.deepEqual(nad.metadata.labels, { 'cni.spidernet.io/rdma-resource-inject': 'gpu' });
  });

  it('announces the device-plugin resource of an SR-IOV network', () => {
    const nad = desiredNad(smc({}, { cniType: 'sriov', sriov: { resourceName: 'spidernet.io/sriov_netdevice' } }));
    assert.equal(nad.metadata.annotations?.[MULTUS_ANNOTATION.resourceName], 'spidernet.io/sriov_netdevice');
  });

  it('has no spec.config for a custom SpiderMultusConfig without customCNI', () => {
    assert.deepEqual(desiredNad(smc({}, { cniType: 'custom' })).spec, {});
  });

  it('throws InvalidMultusConfigError for an unusable SpiderMultusConfig', () => {
    assert.throws(() => desiredNad(smc({}, { cniType: 'ipvlan' })), InvalidMultusConfigError);
  });
});

describe('existing NetworkAttachmentDefinition', () => {
  const current = (): NetworkAttachmentDefinition => {
    const nad = desiredNad(smc());
    return { ...nad, metadata: { ...nad.metadata, resourceVersion: '42', uid: 'nad-uid' } };
  };

  it('the controlling SpiderMultusConfig comes from the controller reference only', () => {
    assert.equal(controllingSmc(current())?.uid, 'smc-uid');
    const byHand = { ...current(), metadata: { ...current().metadata, ownerReferences: undefined } };
    assert.equal(controllingSmc(byHand), undefined);
    const notController = {
      ...current(),
      metadata: { ...current().metadata, ownerReferences: [{ ...owner, controller: false }] },
    };
    assert.equal(controllingSmc(notController), undefined);
    const otherKind = {
      ...current(),
      metadata: { ...current().metadata, ownerReferences: [{ ...owner, apiVersion: 'apps/v1', kind: 'Deployment' }] },
    };
    assert.equal(controllingSmc(otherKind), undefined);
  });

  it('no drift when the config is the same JSON written with other key order and spacing', () => {
    const nad = current();
    const parsed = JSON.parse(nad.spec?.config as string) as Record<string, unknown>;
    const reordered = JSON.stringify(
      { plugins: parsed.plugins, name: parsed.name, cniVersion: parsed.cniVersion },
      null,
      2,
    );
    assert.deepEqual(nadDrift({ ...nad, spec: { config: reordered } }, desiredNad(smc())), []);
    assert.deepEqual(
      nadDrift({ ...nad, metadata: { ...nad.metadata, annotations: undefined, labels: undefined } }, desiredNad(smc())),
      [],
    );
  });

  it('reports a hand-edited config, undecodable config, missing config and changed annotations or labels', () => {
    const desired = desiredNad(smc());
    const nad = current();
    const edited = (nad.spec?.config as string).replace('"bridge"', '"vepa"');
    assert.deepEqual(nadDrift({ ...nad, spec: { config: edited } }, desired), ['spec.config']);
    assert.deepEqual(nadDrift({ ...nad, spec: { config: '{' } }, desired), ['spec.config']);
    assert.deepEqual(nadDrift({ ...nad, spec: {} }, desired), ['spec.config']);
    assert.deepEqual(
      nadDrift({ ...nad, metadata: { ...nad.metadata, annotations: { a: 'b' }, labels: { c: 'd' } } }, desired),
      ['metadata.annotations', 'metadata.labels'],
    );
  });

  it('an update keeps the resourceVersion as precondition, replaces the content and drops a config no longer wanted', () => {
    const nad = {
      ...current(),
      spec: { config: '{"edited":true}' },
      metadata: { ...current().metadata, annotations: { stray: 'x' } },
    };
    const desired = desiredNad(smc({ annotations: { keep: 'y' } }));
    const updated = withDesiredContent(nad, desired);
    assert.equal(updated.metadata.resourceVersion, '42');
    assert.equal(updated.metadata.uid, 'nad-uid');
    assert.deepEqual(updated.metadata.annotations, { keep: 'y' });
    assert.equal(updated.spec?.config, desired.spec?.config);
    assert.deepEqual(nadDrift(updated, desired), []);
    assert.deepEqual(withDesiredContent(nad, desiredNad(smc({}, { cniType: 'custom' }))).spec, {});
  });
});
