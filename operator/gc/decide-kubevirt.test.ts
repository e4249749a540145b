import assert from 'node:assert/strict';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { SpiderEndpoint } from '../../api/v2beta1/types.ts';
import { decide, decideEndpoint, type DecideOptions, type PoolRecord } from './decide.ts';

const opts: DecideOptions = {
  now: Date.now(),
  graceMarginMs: 0,
  enableStatefulSet: true,
  enableKubevirtStaticIP: true,
};
const record: PoolRecord = { pool: 'p4', ip: '10.0.0.5', pod: 'ns/vm1', podUid: 'launcher-uid', nic: 'eth0' };
const endpoint: SpiderEndpoint = {
  metadata: { name: 'vm1', namespace: 'ns', uid: 'se-uid', resourceVersion: '3' },
  status: {
    current: { uid: 'launcher-uid', node: 'n1', ips: [{ interface: 'eth0', ipv4: '10.0.0.5/24', ipv4Pool: 'p4' }] },
    ownerControllerType: 'VirtualMachineInstance',
    ownerControllerName: 'vm1',
  },
};
const vmi = (deleting = false): KubernetesObject => ({
  metadata: {
    name: 'vm1',
    namespace: 'ns',
    ownerReferences: [
      { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', name: 'vm1', uid: 'vm', controller: true },
    ],
    ...(deleting ? { deletionTimestamp: new Date() } : {}),
  },
});
const vm: KubernetesObject = { metadata: { name: 'vm1', namespace: 'ns' } };

describe('GC decisions for KubeVirt VMs', () => {
  it('keeps the records a live VM endpoint lists, with no pod of that name', () => {
    assert.deepEqual(decide(record, { endpoint, vmi: vmi(), vm }, opts), {
      action: 'keep',
      reason: 'VirtualMachineRetained',
    });
    assert.deepEqual(decide(record, { endpoint, vmi: vmi(true), vm }, opts), {
      action: 'keep',
      reason: 'VirtualMachineRetained',
    });
    assert.deepEqual(decide(record, { endpoint, vm }, opts).action, 'keep', 'between a VMI and the next');
    assert.deepEqual(decideEndpoint(endpoint, { endpoint, vm }, false, opts), {
      action: 'keep',
      reason: 'VirtualMachineRetained',
    });
  });

  it('frees them and the endpoint once the VM is gone', () => {
    assert.deepEqual(decide(record, { endpoint }, opts), {
      action: 'release',
      reason: 'VirtualMachineDeleted',
      deleteEndpoint: true,
    });
    assert.deepEqual(decide(record, { endpoint, vmi: vmi(true) }, opts).action, 'release');
    assert.deepEqual(decideEndpoint(endpoint, { endpoint }, false, opts), { action: 'delete' });
  });

  it('frees a record the endpoint does not list, and treats VMs as pods when the switch is off', () => {
    assert.deepEqual(decide({ ...record, ip: '10.0.0.9' }, { endpoint, vmi: vmi(), vm }, opts), {
      action: 'release',
      reason: 'PodDeleted',
      deleteEndpoint: false,
    });
    assert.deepEqual(decide(record, { endpoint, vmi: vmi(), vm }, { ...opts, enableKubevirtStaticIP: false }), {
      action: 'release',
      reason: 'PodDeleted',
      deleteEndpoint: true,
    });
  });
});
