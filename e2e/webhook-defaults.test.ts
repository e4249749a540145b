// Every schema default is one the webhooks accept: one object of every kind with nothing but its required fields
// (for SpiderMultusConfig, one per cniType the CRD lists, and per vlanMode), created through the real apiserver,
// which applies the CRD defaults between the mutating and the validating webhooks.
import assert from 'node:assert/strict';
import { GROUP, VERSION } from '../api/v2beta1/constants.ts';
import { spiderMultusConfig } from '../api/v2beta1/crds.ts';
import { crdRoutes } from '../webhooks/rules/index.ts';
import { testCluster, type TestCluster } from './harness/cluster.ts';
import { runWebhooks, type RunningWebhooks } from './harness/webhooks.ts';

const API = `${GROUP}/${VERSION}`;
const NAMESPACED = new Set(['SpiderEndpoint', 'SpiderMultusConfig']);

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; finalizers?: string[] };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

const object = (kind: string, name: string, body: Omit<Obj, 'apiVersion' | 'kind' | 'metadata'>): Obj => ({
  apiVersion: API,
  kind,
  metadata: { name, ...(NAMESPACED.has(kind) ? { namespace: 'default' } : {}) },
  ...body,
});

const smc = (name: string, spec?: Record<string, unknown>) => object('SpiderMultusConfig', name, spec ? { spec } : {});

/** The smallest valid block of each cniType; `custom` needs none. */
const MINIMAL_BLOCK: Record<string, [string, Record<string, unknown>] | undefined> = {
  macvlan: ['macvlan', { master: ['eth0'] }],
  ipvlan: ['ipvlan', { master: ['eth0'] }],
  vlan: ['vlan', { master: ['eth0'] }],
  sriov: ['sriov', { resourceName: 'spidernet.io/vf' }],
  ovs: ['ovs', { bridge: 'br0' }],
  'ib-sriov': ['ibsriov', { resourceName: 'spidernet.io/ib-vf' }],
  ipoib: ['ipoib', { master: 'ib0' }],
  custom: undefined,
};

describe('minimal objects of every kind are accepted with their defaults', function () {
  this.timeout(300_000);
  let c: TestCluster;
  let hooks: RunningWebhooks;
  const created: Obj[] = [];
  const ref = (o: Obj) => [
    `${o.kind.toLowerCase()}s`,
    o.metadata.name,
    ...(o.metadata.namespace ? ['-n', o.metadata.namespace] : []),
  ];

  const createOk = async (o: Obj): Promise<Obj> => {
    created.push(o);
    const r = await c.kubectl(['create', '-f', '-'], { stdin: JSON.stringify(o) });
    assert.equal(r.code, 0, r.stderr);
    const got = await c.kubectl(['get', ...ref(o), '-o', 'json']);
    assert.equal(got.code, 0, got.stderr);
    return JSON.parse(got.stdout) as Obj;
  };

  before(async () => {
    c = await testCluster();
    hooks = await runWebhooks(c, crdRoutes, { configurationName: 'spiderpool-default-rules' });
  });
  after(async () => {
    await hooks?.stop();
    for (const o of created.reverse()) {
      await c.kubectl(['delete', ...ref(o), '--wait=false', '--ignore-not-found']);
      await c.kubectl(['patch', ...ref(o), '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
    }
  });

  it('SpiderIPPool with only spec.subnet', async () => {
    const stored = await createOk(object('SpiderIPPool', 'min-pool', { spec: { subnet: '10.238.0.0/24' } }));
    assert.deepEqual(stored.spec, { subnet: '10.238.0.0/24', ipVersion: 4, default: false, disable: false });
    assert.deepEqual(stored.metadata.finalizers, ['spiderpool.spidernet.io']);
  });

  it('SpiderSubnet with only spec.subnet', async () => {
    const stored = await createOk(object('SpiderSubnet', 'min-subnet', { spec: { subnet: 'fd00:238::/120' } }));
    assert.deepEqual(stored.spec, { subnet: 'fd00:238::/120', ipVersion: 6 });
  });

  it('SpiderReservedIP with only spec.ips', async () => {
    const stored = await createOk(object('SpiderReservedIP', 'min-reserved', { spec: { ips: ['10.238.1.1'] } }));
    assert.deepEqual(stored.spec, { ips: ['10.238.1.1'], ipVersion: 4 });
  });

  it('SpiderEndpoint with only the required status fields', async () => {
    const stored = await createOk(
      object('SpiderEndpoint', 'min-endpoint', {
        status: {
          current: { uid: 'u-1', node: 'node-1', ips: [{ interface: 'eth0' }] },
          ownerControllerType: 'Pod',
          ownerControllerName: 'min-endpoint',
        },
      }),
    );
    assert.deepEqual((stored.status?.current as { ips: unknown[] }).ips, [{ interface: 'eth0', vlan: 0 }]);
  });

  it('SpiderCoordinator with only spec.podCIDRType, which its webhook requires', async () => {
    const stored = await createOk(object('SpiderCoordinator', 'min-coordinator', { spec: { podCIDRType: 'none' } }));
    assert.deepEqual(stored.spec, {
      podCIDRType: 'none',
      mode: 'auto',
      tunePodRoutes: true,
      hostRuleTable: 500,
      podRPFilter: 0,
      txQueueLen: 0,
      vethMTU: 1500,
    });
  });

  it('a minimal case for every cniType the CRD lists', () => {
    const cniTypes = spiderMultusConfig.spec?.properties?.cniType?.enum ?? [];
    assert.deepEqual([...cniTypes].sort(), Object.keys(MINIMAL_BLOCK).sort());
  });

  it('SpiderMultusConfig without a spec is a custom config', async () => {
    const stored = await createOk(smc('min-smc-none'));
    assert.deepEqual(stored.spec, {
      cniType: 'custom',
      enableCoordinator: false,
      disableIPAM: false,
      chainCNIJsonData: [],
    });
  });

  const coordinatorDefaults = { mode: 'auto', tunePodRoutes: true, hostRuleTable: 500, podRPFilter: 0, txQueueLen: 0 };
  const ippools = { ipv4: [], ipv6: [], matchMasterSubnet: false };
  const blockDefaults: Record<string, Record<string, unknown>> = {
    macvlan: { mtu: 0, vlanID: 0, ippools },
    ipvlan: { mtu: 0, vlanID: 0, ippools },
    vlan: { mtu: 0, vlanID: 0, vlanMode: 'manual', ippools },
    sriov: { vlanID: 0, mtu: 0, minTxRateMbps: 0, maxTxRateMbps: 0, rdmaIsolation: false, ippools },
    ovs: { vlan: 0, ippools },
    ibsriov: { linkState: 'enable', rdmaIsolation: true, enableIbKubernetes: false, ippools },
    ipoib: { ippools },
  };

  for (const [cniType, block] of Object.entries(MINIMAL_BLOCK)) {
    it(`SpiderMultusConfig of cniType ${cniType}`, async () => {
      const spec = block ? { cniType, [block[0]]: block[1] } : { cniType };
      const stored = await createOk(smc(`min-smc-${cniType}`, spec));
      assert.equal(stored.spec?.cniType, cniType);
      if (!block) {
        assert.equal(stored.spec?.enableCoordinator, false);
        return;
      }
      const [key, fields] = block;
      assert.deepEqual(stored.spec?.[key], { ...blockDefaults[key], ...fields });
      assert.deepEqual(stored.spec?.coordinator, {
        ...coordinatorDefaults,
        hijackCIDR: [],
        policyRoutes: [],
      });
      assert.equal(stored.spec?.enableCoordinator, true);
    });
  }

  for (const vlanMode of ['manual', 'auto']) {
    it(`SpiderMultusConfig of cniType vlan in vlanMode ${vlanMode}`, async () => {
      const stored = await createOk(
        smc(`min-smc-vlan-${vlanMode}`, { cniType: 'vlan', vlan: { master: ['eth0'], vlanMode } }),
      );
      const vlan = stored.spec?.vlan as Record<string, unknown>;
      assert.equal(vlan.vlanMode, vlanMode);
      assert.equal(vlan.vlanID, vlanMode === 'manual' ? 0 : undefined);
    });
  }
});
