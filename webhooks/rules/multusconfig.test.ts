import assert from 'node:assert/strict';
import type { SpiderMultusConfig, SpiderMultusConfigSpec } from '../../api/v2beta1/types.ts';
import { mutateMultusConfig, validateMultusConfig } from './multusconfig.ts';
import { FakeCluster, admit, meta, request } from './testing.ts';

const smc = (
  spec: SpiderMultusConfigSpec,
  annotations?: Record<string, string>,
  name = 'net-a',
): SpiderMultusConfig => ({
  ...meta(name, { namespace: 'default', ...(annotations ? { annotations } : {}) }),
  kind: 'SpiderMultusConfig',
  spec,
});

describe('SpiderMultusConfig webhook', () => {
  let cluster: FakeCluster;
  beforeEach(() => {
    cluster = new FakeCluster();
  });
  const run = (s: SpiderMultusConfig, old?: SpiderMultusConfig) =>
    admit(
      mutateMultusConfig(),
      validateMultusConfig(),
      cluster,
      old ? 'UPDATE' : 'CREATE',
      'SpiderMultusConfig',
      s,
      old,
    );

  describe('mutation', () => {
    it('never patches in an empty string, which the apiserver would turn into null', async () => {
      for (const spec of [
        {},
        { cniType: 'ib-sriov', ibsriov: { resourceName: 'r' } },
        { cniType: 'macvlan', macvlan: { master: ['a', 'b'], bond: { name: 'bond0', mode: 1 } } },
      ] as SpiderMultusConfigSpec[]) {
        const m = await mutateMultusConfig()(
          request('CREATE', 'SpiderMultusConfig', smc(spec, { 'cni.spidernet.io/network-resource-inject': '' })),
          cluster,
        );
        assert.doesNotMatch(JSON.stringify(m.patch), /""/);
      }
    });
    it('fills the macvlan and coordinator defaults', async () => {
      const { object, decision } = await run(
        smc({ cniType: 'macvlan', macvlan: { master: ['ens192'], ippools: { ipv4: ['10-6-v4'] } } }),
      );
      assert.equal(decision.allowed, true, decision.message);
      assert.deepEqual(object.spec?.macvlan, {
        master: ['ens192'],
        vlanID: 0,
        mtu: 0,
        ippools: { ipv4: ['10-6-v4'], ipv6: [], matchMasterSubnet: false },
      });
      assert.deepEqual(object.spec?.coordinator, {
        mode: 'auto',
        hijackCIDR: [],
        policyRoutes: [],
        podRPFilter: 0,
        txQueueLen: 0,
        tunePodRoutes: true,
      });
      assert.deepEqual(object.spec?.chainCNIJsonData, []);
    });
    it('defaults cniType to custom, which has no coordinator', async () => {
      const { object } = await run(smc({ coordinator: { mode: 'overlay' }, enableCoordinator: true }));
      assert.equal(object.spec?.cniType, 'custom');
      assert.equal(object.spec?.coordinator, undefined);
      assert.equal(object.spec?.enableCoordinator, false);
    });
    it('copies the injection annotations to labels', async () => {
      const { object } = await run(
        smc(
          { cniType: 'sriov', sriov: { resourceName: 'spidernet.io/mellanox', ippools: { ipv4: ['p'] } } },
          { 'cni.spidernet.io/rdma-resource-inject': 'rdma-net' },
        ),
      );
      assert.equal(object.metadata.labels?.['cni.spidernet.io/rdma-resource-inject'], 'rdma-net');
    });
    it('sets vlanID 0 only for a manual vlan', async () => {
      assert.equal((await run(smc({ cniType: 'vlan', vlan: { master: ['eth0'] } }))).object.spec?.vlan?.vlanID, 0);
      assert.equal(
        (await run(smc({ cniType: 'vlan', vlan: { master: ['eth0'], vlanMode: 'auto' } }))).object.spec?.vlan?.vlanID,
        undefined,
      );
    });
  });

  const cases: [string, SpiderMultusConfigSpec, RegExp, Record<string, string>?][] = [
    [
      'the block of another type',
      { cniType: 'macvlan', macvlan: { master: ['eth0'] }, ipvlan: { master: ['eth1'] } },
      /spec\.ipvlan must not be set when spec\.cniType is "macvlan": only spec\.macvlan is used/,
    ],
    ['a missing block', { cniType: 'ipvlan' }, /spec\.ipvlan is required when spec\.cniType is "ipvlan"/],
    [
      'two masters without bond',
      { cniType: 'macvlan', macvlan: { master: ['eth0', 'eth1'] } },
      /spec\.macvlan\.bond is required when spec\.macvlan\.master lists 2 interfaces/,
    ],
    ['an empty master name', { cniType: 'ipvlan', ipvlan: { master: [''] } }, /spec\.ipvlan\.master\[0\] "" is empty/],
    [
      'matchMasterSubnet on macvlan',
      { cniType: 'macvlan', macvlan: { master: ['eth0'], ippools: { matchMasterSubnet: true } } },
      /spec\.macvlan\.ippools\.matchMasterSubnet is not supported for cniType macvlan/,
    ],
    [
      'an invalid pool name',
      { cniType: 'macvlan', macvlan: { master: ['eth0'], ippools: { ipv4: ['Pool_A'] } } },
      /spec\.macvlan\.ippools\.ipv4\[0\] "Pool_A" is not a valid SpiderIPPool name/,
    ],
    [
      'vlanID in auto vlan mode',
      { cniType: 'vlan', vlan: { master: ['eth0'], vlanMode: 'auto', vlanID: 5 } },
      /spec\.vlan\.vlanID must not be set when spec\.vlan\.vlanMode is "auto"/,
    ],
    [
      'sriov min rate above max',
      { cniType: 'sriov', sriov: { resourceName: 'r', minTxRateMbps: 200, maxTxRateMbps: 100 } },
      /spec\.sriov\.minTxRateMbps 200 is greater than spec\.sriov\.maxTxRateMbps 100/,
    ],
    [
      'ovs trunk min above max',
      { cniType: 'ovs', ovs: { bridge: 'br0', trunk: [{ minID: 20, maxID: 10 }] } },
      /spec\.ovs\.trunk\[0\]\.minID 20 is greater than spec\.ovs\.trunk\[0\]\.maxID 10/,
    ],
    [
      'ovs trunk without ids',
      { cniType: 'ovs', ovs: { bridge: 'br0', trunk: [{ minID: 20 }] } },
      /spec\.ovs\.trunk\[0\] must set id, or both minID and maxID/,
    ],
    [
      'ovs deviceID not a PCI address',
      { cniType: 'ovs', ovs: { bridge: 'br0', deviceID: 'eth0' } },
      /spec\.ovs\.deviceID "eth0" is not a PCI address/,
    ],
    [
      'custom config that is not JSON',
      { cniType: 'custom', customCNI: '{"type": ' },
      /spec\.customCNI is not valid JSON/,
    ],
    [
      'customCNI with macvlan',
      { cniType: 'macvlan', macvlan: { master: ['eth0'] }, customCNI: '{}' },
      /spec\.customCNI must be empty when spec\.cniType is "macvlan"/,
    ],
    [
      'a chained plugin without type',
      { cniType: 'macvlan', macvlan: { master: ['eth0'] }, chainCNIJsonData: ['{"name":"x"}'] },
      /spec\.chainCNIJsonData\[0\] is not a CNI plugin configuration/,
    ],
    [
      'a coordinator route of mixed families',
      {
        cniType: 'macvlan',
        macvlan: { master: ['eth0'] },
        coordinator: { policyRoutes: [{ dst: '10.0.0.0/8', gw: 'fd00::1' }] },
      },
      /spec\.coordinator\.policyRoutes\[0\]: dst "10\.0\.0\.0\/8" and gw "fd00::1" must use the same IP family/,
    ],
    [
      'an unsupported CNI version',
      { cniType: 'macvlan', macvlan: { master: ['eth0'] } },
      /metadata\.annotations\["multus\.spidernet\.io\/cni-version"\] "0\.2\.0" is not a supported CNI version/,
      { 'multus.spidernet.io/cni-version': '0.2.0' },
    ],
    [
      'an invalid NAD name',
      { cniType: 'macvlan', macvlan: { master: ['eth0'] } },
      /metadata\.annotations\["multus\.spidernet\.io\/cr-name"\] "Net_A" is not a valid NetworkAttachmentDefinition name/,
      { 'multus.spidernet.io/cr-name': 'Net_A' },
    ],
    [
      'rdma injection without a resource',
      { cniType: 'macvlan', macvlan: { master: ['eth0'], ippools: { ipv4: ['p'] } } },
      /metadata\.annotations\["cni\.spidernet\.io\/rdma-resource-inject"\] needs an RDMA resource name in spec\.macvlan/,
      { 'cni.spidernet.io/rdma-resource-inject': 'g' },
    ],
    [
      'rdma injection without pools',
      { cniType: 'sriov', sriov: { resourceName: 'r' } },
      /rdma-resource-inject"\] needs at least one default pool in spec\.sriov\.ippools/,
      { 'cni.spidernet.io/rdma-resource-inject': 'g' },
    ],
    [
      'an injection group that cannot be a label',
      { cniType: 'sriov', sriov: { resourceName: 'r', ippools: { ipv4: ['p'] } } },
      /network-resource-inject"\] "a b" is not a valid label value/,
      { 'cni.spidernet.io/network-resource-inject': 'a b' },
    ],
    [
      'injection on ovs',
      { cniType: 'ovs', ovs: { bridge: 'br0' } },
      /network-resource-inject"\] is not supported for cniType ovs/,
      { 'cni.spidernet.io/network-resource-inject': 'g' },
    ],
  ];
  for (const [title, spec, pattern, annotations] of cases) {
    it(`refuses ${title}`, async () => {
      const { decision } = await run(smc(spec, annotations));
      assert.equal(decision.allowed, false, 'expected a denial');
      assert.match(decision.message ?? '', /^SpiderMultusConfig "default\/net-a": /);
      assert.match(decision.message ?? '', pattern);
    });
  }

  it('refuses adding or changing the NAD name after creation', async () => {
    const stored = smc({ cniType: 'macvlan', macvlan: { master: ['eth0'] } });
    const { decision } = await run(
      smc({ cniType: 'macvlan', macvlan: { master: ['eth0'] } }, { 'multus.spidernet.io/cr-name': 'other' }),
      stored,
    );
    assert.match(
      decision.message ?? '',
      /multus\.spidernet\.io\/cr-name"\] cannot be added, changed or removed after creation \(was null, now "other"\)/,
    );
  });

  it('refuses a NAD name another SpiderMultusConfig manages', async () => {
    cluster.nads = [
      {
        apiVersion: 'k8s.cni.cncf.io/v1',
        kind: 'NetworkAttachmentDefinition',
        metadata: {
          name: 'shared',
          namespace: 'default',
          ownerReferences: [
            {
              apiVersion: 'spiderpool.spidernet.io/v2beta1',
              kind: 'SpiderMultusConfig',
              name: 'net-b',
              uid: 'u',
              controller: true,
            },
          ],
        },
      },
    ];
    const { decision } = await run(
      smc({ cniType: 'macvlan', macvlan: { master: ['eth0'] } }, { 'multus.spidernet.io/cr-name': 'shared' }),
    );
    assert.match(
      decision.message ?? '',
      /the NetworkAttachmentDefinition default\/shared already exists and is managed by SpiderMultusConfig default\/net-b/,
    );
    const own = await run(
      smc({ cniType: 'macvlan', macvlan: { master: ['eth0'] } }, { 'multus.spidernet.io/cr-name': 'shared' }, 'net-b'),
    );
    assert.equal(own.decision.allowed, true, own.decision.message);
  });

  it('accepts a bonded macvlan with rdma injection and pools', async () => {
    const { decision } = await run(
      smc(
        {
          cniType: 'macvlan',
          macvlan: {
            master: ['eth0', 'eth1'],
            bond: { name: 'bond0', mode: 1 },
            rdmaResourceName: 'spidernet.io/rdma',
            ippools: { ipv4: ['p'] },
          },
        },
        { 'cni.spidernet.io/rdma-resource-inject': 'g' },
      ),
    );
    assert.deepEqual(decision, { allowed: true });
  });
});
