import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import { selectPools, type SelectionInput } from '../../ipam/selection/index.ts';
import type { SpiderSubnet } from '../../api/v2beta1/types.ts';
import { IPSet } from '../../lib/ip/index.ts';
import type { Application, AutoPoolRequest } from './application.ts';
import { autoPoolName, newAutoPool, poolApplication, updatedAutoPool } from './auto-pool.ts';

const app: Application = {
  kind: 'Deployment',
  namespace: 'default',
  name: 'nginx',
  uid: 'a1b2c3d4-0000-4000-8000-abcdef123456',
  apiVersion: 'apps/v1',
  replicas: 2,
  terminating: false,
};
const req: AutoPoolRequest = { nic: 'eth0', family: 4, subnet: 'subnet-6', size: 3, ipNumber: '+1', reclaim: true };
const subnet: SpiderSubnet = {
  apiVersion: 'spiderpool.spidernet.io/v2beta1',
  kind: 'SpiderSubnet',
  metadata: { name: 'subnet-6', uid: 'subnet-uid' },
  spec: {
    ipVersion: 4,
    subnet: '10.6.0.0/16',
    ips: ['10.6.0.10-10.6.0.200'],
    gateway: '10.6.0.1',
    routes: [{ dst: '10.7.0.0/16', gw: '10.6.0.254' }],
  },
};

/** What the agent's selection does with a pod of the Deployment on `nic`. */
function agentSelects(
  pools: ReturnType<typeof newAutoPool>[],
  top = { kind: 'Deployment', name: 'nginx', namespace: 'default', uid: app.uid, apiVersion: 'apps/v1' },
): string[] {
  const pod: V1Pod = {
    metadata: {
      name: 'nginx-1',
      namespace: 'default',
      annotations: { 'ipam.spidernet.io/subnet': '{"ipv4":["subnet-6"]}' },
    },
    spec: { nodeName: 'n', containers: [] },
  };
  const input: SelectionInput = {
    pod,
    namespace: { metadata: { name: 'default' } },
    node: { metadata: { name: 'n' } },
    ifName: 'eth0',
    cniDefaults: {},
    pools,
    topController: top,
    enableIPv4: true,
    enableIPv6: false,
    installNamespace: 'kube-system',
  };
  return selectPools(input).nics.flatMap((n) => n.ipv4);
}

describe('auto-created pool shape', () => {
  it('is named auto<v>-<app>-<nic>-<first 5 of the last UID segment>', () => {
    assert.equal(autoPoolName(app, 'eth0', 4), 'auto4-nginx-eth0-abcde');
    assert.equal(autoPoolName({ ...app, name: 'Web' }, 'NET1', 6), 'auto6-web-net1-abcde');
  });

  it('shortens a long application name so the pool name fits 253 characters', () => {
    const name = autoPoolName({ ...app, name: `${'a'.repeat(240)}.bbbbbbbbbb` }, 'eth0', 4);
    assert.equal(name.length <= 253, true);
    assert.match(name, /^auto4-a+-eth0-abcde$/, 'no dangling "." before the suffix');
  });

  it('carries the labels, annotation, owner and spec that Spiderpool gives it', () => {
    const pool = newAutoPool('auto4-nginx-eth0-abcde', app, req, subnet, ['10.6.0.10-10.6.0.12']);
    assert.deepEqual(pool.metadata.labels, {
      'ipam.spidernet.io/owner-application-gv': 'apps_v1',
      'ipam.spidernet.io/owner-application-kind': 'Deployment',
      'ipam.spidernet.io/owner-application-namespace': 'default',
      'ipam.spidernet.io/owner-application-name': 'nginx',
      'ipam.spidernet.io/owner-application-uid': app.uid,
      'ipam.spidernet.io/owner-spider-subnet': 'subnet-6',
      'ipam.spidernet.io/interface': 'eth0',
      'ipam.spidernet.io/ip-version': 'IPv4',
      'ipam.spidernet.io/ippool-reclaim': 'true',
      'ipam.spidernet.io/ippool-cidr': '10-6-0-0-16',
    });
    assert.deepEqual(pool.metadata.annotations, { 'ipam.spidernet.io/ippool-ip-number': '+1' });
    assert.deepEqual(pool.metadata.ownerReferences, [
      {
        apiVersion: 'spiderpool.spidernet.io/v2beta1',
        kind: 'SpiderSubnet',
        name: 'subnet-6',
        uid: 'subnet-uid',
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    assert.deepEqual(pool.spec, {
      ipVersion: 4,
      subnet: '10.6.0.0/16',
      ips: ['10.6.0.10-10.6.0.12'],
      gateway: '10.6.0.1',
      routes: [{ dst: '10.7.0.0/16', gw: '10.6.0.254' }],
      podAffinity: {
        matchLabels: {
          'ipam.spidernet.io/app-api-group': 'apps',
          'ipam.spidernet.io/app-api-version': 'v1',
          'ipam.spidernet.io/app-kind': 'Deployment',
          'ipam.spidernet.io/app-namespace': 'default',
          'ipam.spidernet.io/app-name': 'nginx',
        },
      },
    });
    assert.deepEqual(poolApplication(pool), { kind: 'Deployment', namespace: 'default', name: 'nginx' });
  });

  it("is the pool the agent selects for the application's pods, and no other application's", () => {
    const pool = newAutoPool('auto4-nginx-eth0-abcde', app, req, subnet, ['10.6.0.10-10.6.0.12']);
    assert.deepEqual(agentSelects([pool]), ['auto4-nginx-eth0-abcde']);
    assert.throws(
      () =>
        agentSelects([pool], {
          kind: 'Deployment',
          name: 'nginx',
          namespace: 'default',
          uid: 'other',
          apiVersion: 'apps/v1',
        }),
      /does not exist yet/,
    );
    const job = newAutoPool(
      'auto4-j-eth0-abcde',
      { ...app, kind: 'Job', name: 'j', apiVersion: 'batch/v1' },
      req,
      subnet,
      ['10.6.0.20'],
    );
    assert.deepEqual(
      agentSelects([job], { kind: 'Job', name: 'j', namespace: 'default', uid: app.uid, apiVersion: 'batch/v1' }),
      ['auto4-j-eth0-abcde'],
    );
  });

  it('an update changes only what differs: addresses, size annotation, UID and reclaim labels', () => {
    const pool = newAutoPool('auto4-nginx-eth0-abcde', app, req, subnet, ['10.6.0.10-10.6.0.12']);
    assert.equal(
      updatedAutoPool(pool, app, req, subnet, IPSet.fromRanges(['10.6.0.10', '10.6.0.11-10.6.0.12'])),
      undefined,
    );
    const grown = updatedAutoPool(pool, app, { ...req, size: 4 }, subnet, IPSet.fromRanges(['10.6.0.10-10.6.0.13']));
    assert.deepEqual(grown?.spec.ips, ['10.6.0.10-10.6.0.13']);
    const taken = updatedAutoPool(
      pool,
      { ...app, uid: 'new-uid' },
      { ...req, reclaim: false, ipNumber: '3' },
      subnet,
      IPSet.fromRanges(['10.6.0.10-10.6.0.12']),
    );
    assert.equal(taken?.metadata.labels?.['ipam.spidernet.io/owner-application-uid'], 'new-uid');
    assert.equal(taken?.metadata.labels?.['ipam.spidernet.io/ippool-reclaim'], 'false');
    assert.equal(taken?.metadata.annotations?.['ipam.spidernet.io/ippool-ip-number'], '3');
    assert.equal(taken?.metadata.name, 'auto4-nginx-eth0-abcde');
  });
});
