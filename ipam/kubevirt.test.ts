import assert from 'node:assert/strict';
import type { KubernetesObject } from '@kubernetes/client-node';
import { vmRetains, vmiNameOf } from './kubevirt.ts';

const vm: KubernetesObject = { metadata: { name: 'vm1', uid: 'vm-uid' } };
const vmi = (over: { deleting?: boolean; ownedByVm?: boolean } = {}): KubernetesObject => ({
  metadata: {
    name: 'vm1',
    ...(over.deleting ? { deletionTimestamp: new Date() } : {}),
    ...(over.ownedByVm
      ? {
          ownerReferences: [
            { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', name: 'vm1', uid: 'vm-uid', controller: true },
          ],
        }
      : {}),
  },
});
const deleting = (o: KubernetesObject): KubernetesObject => ({
  ...o,
  metadata: { ...o.metadata, deletionTimestamp: new Date() },
});

describe('KubeVirt retention rules', () => {
  it('vmiNameOf: only a kubevirt.io/v1 VirtualMachineInstance names the addresses', () => {
    const top = {
      kind: 'VirtualMachineInstance',
      name: 'vm1',
      namespace: 'ns',
      uid: 'u',
      apiVersion: 'kubevirt.io/v1',
    };
    assert.equal(vmiNameOf(top), 'vm1');
    assert.equal(vmiNameOf({ ...top, apiVersion: 'example.com/v1' }), undefined);
    assert.equal(vmiNameOf({ ...top, kind: 'VirtualMachine' }), undefined);
  });

  it('vmRetains: a running VMI keeps them, with or without a VM', () => {
    assert.equal(vmRetains(vmi(), undefined), true);
    assert.equal(vmRetains(vmi({ ownedByVm: true }), vm), true);
  });

  it('vmRetains: a VMI on its way out keeps them only when a live VM will start it again', () => {
    assert.equal(vmRetains(vmi({ deleting: true }), vm), false, 'no VM controls it');
    assert.equal(vmRetains(vmi({ deleting: true, ownedByVm: true }), vm), true);
    assert.equal(vmRetains(vmi({ deleting: true, ownedByVm: true }), deleting(vm)), false);
    assert.equal(vmRetains(vmi({ deleting: true, ownedByVm: true }), undefined), false);
  });

  it('vmRetains: without a VMI, the VM decides', () => {
    assert.equal(vmRetains(undefined, vm), true);
    assert.equal(vmRetains(undefined, deleting(vm)), false);
    assert.equal(vmRetains(undefined, undefined), false);
  });
});
