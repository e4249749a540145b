import assert from 'node:assert/strict';
import type { SpiderMultusConfig, SpiderMultusConfigSpec } from '../../api/v2beta1/types.ts';
import { InvalidMultusConfigError, generateNadContent, nadNameOf } from './nad-config.ts';

const smc = (spec: SpiderMultusConfigSpec, annotations?: Record<string, string>, name = 'net'): SpiderMultusConfig => ({
  apiVersion: 'spiderpool.spidernet.io/v2beta1',
  kind: 'SpiderMultusConfig',
  metadata: { name, namespace: 'kube-system', uid: 'u-1', ...(annotations ? { annotations } : {}) },
  spec,
});

const conf = (o: SpiderMultusConfig) =>
  JSON.parse(generateNadContent(o).config as string) as {
    cniVersion: string;
    name: string;
    plugins: Record<string, unknown>[];
  };
const plugins = (o: SpiderMultusConfig) => conf(o).plugins;
const DEFAULT_COORDINATOR = { type: 'coordinator', mode: 'auto', tunePodRoutes: true, podRPFilter: 0 };

function assertInvalid(o: SpiderMultusConfig, field: string, reason: RegExp) {
  assert.throws(
    () => generateNadContent(o),
    (err: unknown) => {
      assert.ok(err instanceof InvalidMultusConfigError);
      assert.equal(err.field, field);
      assert.match(err.reason, reason);
      assert.match(err.message, new RegExp(`^SpiderMultusConfig kube-system/${o.metadata.name}: `));
      return true;
    },
  );
}

describe('NAD config generation', () => {
  describe('macvlan', () => {
    it('the quick-start macvlan-ens192, as the apiserver stores it, gives the documented conflist byte for byte', () => {
      // The fixture with the CRD defaults the apiserver adds (mtu, vlanID, enableCoordinator, ...).
      const o = smc(
        {
          cniType: 'macvlan',
          macvlan: { master: ['ens192'], vlanID: 0, mtu: 0, ippools: { ipv4: ['10-6-v4'], matchMasterSubnet: false } },
          enableCoordinator: true,
          disableIPAM: false,
        },
        undefined,
        'macvlan-ens192',
      );
      assert.equal(
        generateNadContent(o).config,
        '{"cniVersion":"0.3.1","name":"macvlan-ens192","plugins":[' +
          '{"type":"macvlan","master":"ens192","mode":"bridge","mtu":0,"ipam":{"type":"spiderpool","default_ipv4_ippool":["10-6-v4"]}},' +
          '{"type":"coordinator","mode":"auto","tunePodRoutes":true,"podRPFilter":0}]}',
      );
      assert.equal(generateNadContent(o).resourceName, undefined);
    });

    it('a VLAN ID puts ifacer first and the sub-interface as master (docs/multus-config.md#example)', () => {
      const o = smc(
        {
          cniType: 'macvlan',
          macvlan: { master: ['ens192'], vlanID: 100, mtu: 0, ippools: { ipv4: ['v4-pool'], ipv6: ['v6-pool'] } },
        },
        undefined,
        'macvlan-ens192',
      );
      assert.deepEqual(conf(o), {
        cniVersion: '0.3.1',
        name: 'macvlan-ens192',
        plugins: [
          { type: 'ifacer', interfaces: ['ens192'], vlanID: 100 },
          {
            type: 'macvlan',
            master: 'ens192.100',
            mode: 'bridge',
            mtu: 0,
            ipam: { type: 'spiderpool', default_ipv4_ippool: ['v4-pool'], default_ipv6_ippool: ['v6-pool'] },
          },
          DEFAULT_COORDINATOR,
        ],
      });
    });

    it('two masters are bonded by ifacer and the bond, with its VLAN, is the master', () => {
      const bond = { name: 'bond0', mode: 1, options: 'primary=ens192' };
      const ps = plugins(smc({ cniType: 'macvlan', macvlan: { master: ['ens192', 'ens224'], vlanID: 200, bond } }));
      assert.deepEqual(ps[0], { type: 'ifacer', interfaces: ['ens192', 'ens224'], vlanID: 200, bond });
      assert.equal(ps[1]?.master, 'bond0.200');
      const noVlan = plugins(
        smc({
          cniType: 'macvlan',
          macvlan: { master: ['ens192', 'ens224'], vlanID: 0, bond: { name: 'bond0', mode: 0 } },
        }),
      );
      assert.deepEqual(noVlan[0], {
        type: 'ifacer',
        interfaces: ['ens192', 'ens224'],
        bond: { name: 'bond0', mode: 0 },
      });
      assert.equal(noVlan[1]?.master, 'bond0');
    });

    it('one master without VLAN needs no ifacer; no pools gives a bare spiderpool ipam', () => {
      assert.deepEqual(plugins(smc({ cniType: 'macvlan', macvlan: { master: ['eth1'] } })), [
        { type: 'macvlan', master: 'eth1', mode: 'bridge', ipam: { type: 'spiderpool' } },
        DEFAULT_COORDINATOR,
      ]);
    });

    it('refuses a missing block, an empty master list or several masters without a bond', () => {
      assertInvalid(smc({ cniType: 'macvlan' }), 'spec.macvlan', /required when spec.cniType is macvlan/);
      assertInvalid(
        smc({ cniType: 'macvlan', macvlan: { master: [] as unknown as [string] } }),
        'spec.macvlan.master',
        /at least one interface/,
      );
      assertInvalid(
        smc({ cniType: 'macvlan', macvlan: { master: [''] } }),
        'spec.macvlan.master[0]',
        /must not be empty/,
      );
      assertInvalid(
        smc({ cniType: 'macvlan', macvlan: { master: ['a', 'b'] } }),
        'spec.macvlan.bond.name',
        /required with 2 master interfaces/,
      );
    });
  });

  describe('ipvlan', () => {
    it('the public-cloud ipvlan-eth0, as stored with the coordinator defaults, keeps the SMC coordinator values', () => {
      const o = smc(
        {
          cniType: 'ipvlan',
          ipvlan: { master: ['eth0'], vlanID: 0, mtu: 0 },
          coordinator: {
            mode: 'underlay',
            tunePodRoutes: true,
            podCIDRType: 'cluster',
            hostRuleTable: 500,
            podRPFilter: 0,
            txQueueLen: 0,
          },
          enableCoordinator: true,
        },
        undefined,
        'ipvlan-eth0',
      );
      assert.deepEqual(conf(o), {
        cniVersion: '0.3.1',
        name: 'ipvlan-eth0',
        plugins: [
          { type: 'ipvlan', master: 'eth0', mtu: 0, ipam: { type: 'spiderpool' } },
          { type: 'coordinator', mode: 'underlay', tunePodRoutes: true, txQueueLen: 0, podRPFilter: 0 },
        ],
      });
    });

    it('has no mode, and a VLAN brings ifacer', () => {
      assert.deepEqual(
        plugins(
          smc({ cniType: 'ipvlan', ipvlan: { master: ['eth1'], vlanID: 7, mtu: 1400, ippools: { ipv6: ['v6'] } } }),
        ),
        [
          { type: 'ifacer', interfaces: ['eth1'], vlanID: 7 },
          { type: 'ipvlan', master: 'eth1.7', mtu: 1400, ipam: { type: 'spiderpool', default_ipv6_ippool: ['v6'] } },
          DEFAULT_COORDINATOR,
        ],
      );
    });
  });

  describe('vlan', () => {
    it('manual mode writes vlanId on the plain master and needs no ifacer for one master', () => {
      assert.deepEqual(
        plugins(smc({ cniType: 'vlan', vlan: { master: ['ens192'], vlanID: 30, mtu: 0, vlanMode: 'manual' } })),
        [
          { type: 'vlan', master: 'ens192', vlanMode: 'manual', vlanId: 30, mtu: 0, ipam: { type: 'spiderpool' } },
          DEFAULT_COORDINATOR,
        ],
      );
    });

    it('auto mode has no vlanId; bonded masters get ifacer without a VLAN', () => {
      const bond = { name: 'bond1', mode: 4 };
      assert.deepEqual(plugins(smc({ cniType: 'vlan', vlan: { master: ['a', 'b'], vlanMode: 'auto', bond } })), [
        { type: 'ifacer', interfaces: ['a', 'b'], bond },
        { type: 'vlan', master: 'bond1', vlanMode: 'auto', ipam: { type: 'spiderpool' } },
        DEFAULT_COORDINATOR,
      ]);
    });

    it('manual mode without vlanID uses VLAN 0, as the webhook defaults it', () => {
      assert.equal(plugins(smc({ cniType: 'vlan', vlan: { master: ['eth0'] } }))[0]?.vlanId, 0);
    });
  });

  describe('sriov', () => {
    it('orders sriov, rdma, chained plugins, coordinator, tuning and announces the resource', () => {
      const o = smc({
        cniType: 'sriov',
        sriov: {
          resourceName: 'spidernet.io/mellanoxrdma',
          vlanID: 10,
          mtu: 9000,
          minTxRateMbps: 100,
          maxTxRateMbps: 1000,
          rdmaIsolation: true,
          ippools: { ipv4: ['sriov-v4'], matchMasterSubnet: true },
        },
        chainCNIJsonData: ['{"type":"bandwidth","ingressRate":1000}'],
      });
      assert.deepEqual(plugins(o), [
        {
          type: 'sriov',
          vlan: 10,
          min_tx_rate: 100,
          max_tx_rate: 1000,
          ipam: { type: 'spiderpool', default_ipv4_ippool: ['sriov-v4'], match_master_subnet: true },
        },
        { type: 'rdma' },
        { type: 'bandwidth', ingressRate: 1000 },
        DEFAULT_COORDINATOR,
        { type: 'tuning', mtu: 9000 },
      ]);
      assert.equal(generateNadContent(o).resourceName, 'spidernet.io/mellanoxrdma');
    });

    it('without rdmaIsolation and mtu 0 there is neither rdma nor tuning', () => {
      const ps = plugins(
        smc({
          cniType: 'sriov',
          sriov: { resourceName: 'r', vlanID: 0, mtu: 0, minTxRateMbps: 0, maxTxRateMbps: 0, rdmaIsolation: false },
        }),
      );
      assert.deepEqual(
        ps.map((p) => p.type),
        ['sriov', 'coordinator'],
      );
    });

    it('refuses an empty resourceName', () => {
      assertInvalid(
        smc({ cniType: 'sriov', sriov: { resourceName: '' } }),
        'spec.sriov.resourceName',
        /must not be empty/,
      );
    });
  });

  describe('ib-sriov and ipoib', () => {
    it('ib-sriov writes its keys as the plugin reads them and announces the resource', () => {
      const o = smc({
        cniType: 'ib-sriov',
        ibsriov: {
          resourceName: 'spidernet.io/ib',
          pkey: '0x7fff',
          linkState: 'enable',
          rdmaIsolation: true,
          enableIbKubernetes: false,
          ippools: { ipv4: ['ib-v4'] },
        },
      });
      assert.deepEqual(plugins(o), [
        {
          type: 'ib-sriov',
          pkey: '0x7fff',
          link_state: 'enable',
          rdmaIsolation: true,
          ibKubernetesEnabled: false,
          ipam: { type: 'spiderpool', default_ipv4_ippool: ['ib-v4'] },
        },
        DEFAULT_COORDINATOR,
      ]);
      assert.equal(generateNadContent(o).resourceName, 'spidernet.io/ib');
    });

    it('ib-sriov leaves an empty pkey out', () => {
      assert.equal(
        'pkey' in (plugins(smc({ cniType: 'ib-sriov', ibsriov: { resourceName: 'r', pkey: '' } }))[0] ?? {}),
        false,
      );
    });

    it('ipoib takes the master and has no resource', () => {
      const o = smc({ cniType: 'ipoib', ipoib: { master: 'ib0', ippools: { ipv4: ['v4'] } } });
      assert.deepEqual(plugins(o)[0], {
        type: 'ipoib',
        master: 'ib0',
        ipam: { type: 'spiderpool', default_ipv4_ippool: ['v4'] },
      });
      assert.equal(generateNadContent(o).resourceName, undefined);
      assertInvalid(smc({ cniType: 'ipoib', ipoib: { master: '' } }), 'spec.ipoib.master', /must not be empty/);
      assertInvalid(smc({ cniType: 'ib-sriov' }), 'spec.ibsriov', /required when spec.cniType is ib-sriov/);
    });
  });

  describe('ovs', () => {
    it('writes bridge, vlan and trunk; a deviceID announces the bridge resource of the OVS device plugin', () => {
      const o = smc({
        cniType: 'ovs',
        ovs: {
          bridge: 'br1',
          vlan: 100,
          trunk: [{ minID: 200, maxID: 300 }, { id: 42 }],
          deviceID: '0000:81:00.2',
          ippools: { ipv4: ['ovs-v4'] },
        },
      });
      assert.deepEqual(plugins(o), [
        {
          type: 'ovs',
          bridge: 'br1',
          vlan: 100,
          trunk: [{ minID: 200, maxID: 300 }, { id: 42 }],
          deviceID: '0000:81:00.2',
          ipam: { type: 'spiderpool', default_ipv4_ippool: ['ovs-v4'] },
        },
        DEFAULT_COORDINATOR,
      ]);
      assert.equal(generateNadContent(o).resourceName, 'ovs-cni.network.kubevirt.io/br1');
    });

    it('without a deviceID there is no resource; an inverted trunk range is refused', () => {
      const o = smc({ cniType: 'ovs', ovs: { bridge: 'br1', vlan: 0 } });
      assert.deepEqual(plugins(o)[0], { type: 'ovs', bridge: 'br1', vlan: 0, ipam: { type: 'spiderpool' } });
      assert.equal(generateNadContent(o).resourceName, undefined);
      assertInvalid(
        smc({ cniType: 'ovs', ovs: { bridge: 'br1', trunk: [{ minID: 9, maxID: 3 }] } }),
        'spec.ovs.trunk[0]',
        /minID 9 is greater than maxID 3/,
      );
    });
  });

  describe('custom', () => {
    it('passes customCNI through verbatim, whitespace included', () => {
      const text = '{ "cniVersion": "0.4.0", "name": "calico", "plugins": [ {"type": "calico"} ] }';
      assert.equal(
        generateNadContent(smc({ cniType: 'custom', customCNI: text, chainCNIJsonData: ['{"type":"x"}'] })).config,
        text,
      );
    });

    it('is the default cniType; without customCNI there is no config', () => {
      assert.deepEqual(generateNadContent(smc({})), { config: undefined });
      assert.deepEqual(generateNadContent({ ...smc({}), spec: undefined }), { config: undefined });
    });

    it('refuses customCNI that is not JSON', () => {
      assertInvalid(smc({ cniType: 'custom', customCNI: '{"type": ' }), 'spec.customCNI', /not valid JSON/);
    });
  });

  describe('common parts', () => {
    it('disableIPAM drops the ipam block; enableCoordinator false drops the coordinator', () => {
      assert.deepEqual(
        plugins(
          smc({
            cniType: 'macvlan',
            macvlan: { master: ['eth1'], ippools: { ipv4: ['p'] } },
            disableIPAM: true,
            enableCoordinator: false,
          }),
        ),
        [{ type: 'macvlan', master: 'eth1', mode: 'bridge' }],
      );
    });

    it('chained plugins come after the main plugin and before the coordinator, in order', () => {
      const ps = plugins(
        smc({
          cniType: 'macvlan',
          macvlan: { master: ['eth1'], vlanID: 5 },
          chainCNIJsonData: ['{"type":"tuning","sysctl":{"net.ipv4.conf.all.arp_notify":"1"}}', '{"type":"bandwidth"}'],
        }),
      );
      assert.deepEqual(
        ps.map((p) => p.type),
        ['ifacer', 'macvlan', 'tuning', 'bandwidth', 'coordinator'],
      );
      assert.deepEqual(ps[2], { type: 'tuning', sysctl: { 'net.ipv4.conf.all.arp_notify': '1' } });
    });

    it('refuses a chained plugin that is not JSON, not an object, or has no type', () => {
      const base: SpiderMultusConfigSpec = { cniType: 'macvlan', macvlan: { master: ['eth1'] } };
      assertInvalid(
        smc({ ...base, chainCNIJsonData: ['{"type":"a"}', 'nope'] }),
        'spec.chainCNIJsonData[1]',
        /not valid JSON/,
      );
      assertInvalid(
        smc({ ...base, chainCNIJsonData: ['[{"type":"a"}]'] }),
        'spec.chainCNIJsonData[0]',
        /must be a JSON object/,
      );
      assertInvalid(smc({ ...base, chainCNIJsonData: ['{"mtu":1}'] }), 'spec.chainCNIJsonData[0]', /non-empty "type"/);
    });

    it('takes cniVersion, the NAD name and the conflist name from the annotations', () => {
      const o = smc(
        { cniType: 'macvlan', macvlan: { master: ['eth1'] } },
        {
          'multus.spidernet.io/cni-version': '1.0.0',
          'multus.spidernet.io/cr-name': 'k8s-pod-network',
        },
        'calico',
      );
      assert.equal(nadNameOf(o), 'k8s-pod-network');
      assert.deepEqual([conf(o).cniVersion, conf(o).name], ['1.0.0', 'k8s-pod-network']);
      const named = smc(
        { cniType: 'macvlan', macvlan: { master: ['eth1'] } },
        { 'cni.spidernet.io/cniconfig-name': 'inner' },
      );
      assert.deepEqual([nadNameOf(named), conf(named).name], ['net', 'inner']);
      assertInvalid(
        smc({ cniType: 'macvlan', macvlan: { master: ['eth1'] } }, { 'multus.spidernet.io/cni-version': '0.2.0' }),
        'metadata.annotations[multus.spidernet.io/cni-version]',
        /unsupported CNI version "0.2.0", use one of 0.3.0, 0.3.1, 0.4.0, 1.0.0/,
      );
    });

    it('writes every coordinator value the SpiderMultusConfig sets, spells disabled as the plugin does, and leaves out the CR-only fields', () => {
      const o = smc({
        cniType: 'macvlan',
        macvlan: { master: ['eth1'] },
        coordinator: {
          mode: 'disabled',
          podCIDRType: 'calico',
          hijackCIDR: ['169.254.0.0/16'],
          policyRoutes: [{ dst: '10.7.0.0/16', gw: '10.6.0.1' }],
          podMACPrefix: '0a:1b',
          tunePodRoutes: false,
          podDefaultRouteNIC: 'net1',
          hostRuleTable: 600,
          podRPFilter: 2,
          txQueueLen: 1000,
          vethLinkAddress: '169.254.100.1',
          vethMTU: 1450,
        },
      });
      assert.deepEqual(plugins(o)[1], {
        type: 'coordinator',
        mode: 'disable',
        hijackCIDR: ['169.254.0.0/16'],
        policyRoutes: [{ dst: '10.7.0.0/16', gw: '10.6.0.1' }],
        podMACPrefix: '0a:1b',
        podDefaultRouteNic: 'net1',
        vethLinkAddress: '169.254.100.1',
        vethMTU: 1450,
        tunePodRoutes: false,
        txQueueLen: 1000,
        podRPFilter: 2,
      });
    });

    it('leaves out empty coordinator lists and strings', () => {
      const o = smc({
        cniType: 'macvlan',
        macvlan: { master: ['eth1'] },
        coordinator: {
          mode: 'overlay',
          hijackCIDR: [],
          policyRoutes: [],
          podMACPrefix: '',
          podDefaultRouteNIC: '',
          vethLinkAddress: '',
        },
      });
      assert.deepEqual(plugins(o)[1], { type: 'coordinator', mode: 'overlay' });
    });

    it('refuses an unknown cniType', () => {
      assertInvalid(smc({ cniType: 'bridge' as 'custom' }), 'spec.cniType', /unsupported value "bridge"/);
    });
  });
});
