import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import { SelectionError } from './errors.ts';
import { MULTUS_ANNOTATION } from '../../api/v2beta1/constants.ts';
import { nicNetwork, parseMultusDefaultNetwork, parseMultusNetworks, type NetworkSelection } from './multus.ts';

const sel = (namespace: string, name: string, iface: string, requested = false): NetworkSelection => ({
  namespace,
  name,
  interface: iface,
  interfaceRequested: requested,
});

const networks: [title: string, value: string, expected: NetworkSelection[]][] = [
  ['a bare name is in the pod namespace', 'macvlan-ens192', [sel('default', 'macvlan-ens192', 'net1')]],
  ['namespace/name', 'kube-system/macvlan-ens224', [sel('kube-system', 'macvlan-ens224', 'net1')]],
  [
    'several entries, with and without @interface',
    'kube-system/ipvlan-eth0, ipvlan-eth1@eth1 ,kube-system/sriov',
    [
      sel('kube-system', 'ipvlan-eth0', 'net1'),
      sel('default', 'ipvlan-eth1', 'eth1', true),
      sel('kube-system', 'sriov', 'net3'),
    ],
  ],
  [
    'the JSON form',
    '[{"name":"macvlan","namespace":"kube-system","interface":"ens1"},{"name":"ipvlan"}]',
    [sel('kube-system', 'macvlan', 'ens1', true), sel('default', 'ipvlan', 'net2')],
  ],
  [
    'the JSON form with mac and ips',
    ' [{"name":"macvlan","mac":"c2:b0:57:49:47:f1","ips":["10.6.0.5/16","fd00::5"]}]',
    [{ ...sel('default', 'macvlan', 'net1'), mac: 'c2:b0:57:49:47:f1', ips: ['10.6.0.5/16', 'fd00::5'] }],
  ],
  ['an empty value means no extra networks', '  ', []],
];

const invalidNetworks: [title: string, value: string, expected: RegExp][] = [
  ['two slashes', 'a/b/c', /more than one '\/'/],
  ['two at signs', 'ns/a@net1@net2', /more than one '@'/],
  ['empty entry', 'a,,b', /entry 1 is empty/],
  ['upper-case name', 'ns/MacVlan', /network name "MacVlan" must be lower-case/],
  ['bad namespace', 'Kube_System/macvlan', /namespace "Kube_System" must be lower-case/],
  ['empty interface after @', 'macvlan@', /empty interface name after '@'/],
  ['interface name too long', 'macvlan@averyverylongname0', /longer than 15 characters/],
  ['invalid JSON', '[{"name":"macvlan"', /not valid JSON/],
  ['JSON object instead of array', '{"name":"macvlan"}', /must be an array/],
  ['JSON element without name', '[{"namespace":"kube-system"}]', /element 0 names no network/],
  ['JSON interface not a string', '[{"name":"a","interface":1}]', /"interface" must be a string/],
  ['JSON bad mac', '[{"name":"a","mac":"c2:b0:57"}]', /mac "c2:b0:57" is not a hardware address/],
  [
    'JSON bad infiniband-guid',
    '[{"name":"a","infiniband-guid":"zz"}]',
    /infiniband-guid "zz" is not a hardware address/,
  ],
  ['JSON bad ips', '[{"name":"a","ips":["10.6.0.300"]}]', /"10.6.0.300" in "ips" is not an IP address or CIDR/],
];

const podWith = (annotations: Record<string, string>): V1Pod => ({
  metadata: { name: 'web-0', namespace: 'default', annotations },
});

describe('selection/multus', () => {
  describe('parseMultusNetworks', () => {
    for (const [title, value, expected] of networks) {
      it(title, () =>
        assert.deepEqual(parseMultusNetworks({ [MULTUS_ANNOTATION.networks]: value }, 'default'), expected),
      );
    }
    it('is empty without the annotation', () => assert.deepEqual(parseMultusNetworks(undefined, 'default'), []));
    it('accepts 8- and 20-octet hardware addresses and the dotted form', () => {
      const value = JSON.stringify([
        { name: 'a', mac: '0000.5e00.5301' },
        { name: 'b', 'infiniband-guid': '00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01' },
        { name: 'c', mac: '02-00-5e-10-00-00-00-01' },
      ]);
      assert.equal(parseMultusNetworks({ [MULTUS_ANNOTATION.networks]: value }, 'default').length, 3);
    });
  });

  describe('parseMultusNetworks refuses with WrongInput', () => {
    for (const [title, value, expected] of invalidNetworks) {
      it(title, () => {
        assert.throws(
          () => parseMultusNetworks({ [MULTUS_ANNOTATION.networks]: value }, 'default'),
          (err: unknown) => {
            assert.ok(err instanceof SelectionError);
            assert.equal(err.reason, 'WrongInput');
            assert.ok(err.message.startsWith(`annotation ${MULTUS_ANNOTATION.networks} is invalid: `), err.message);
            assert.match(err.message, expected);
            return true;
          },
        );
      });
    }
  });

  describe('parseMultusDefaultNetwork', () => {
    it('resolves a bare name in the install namespace', () => {
      assert.deepEqual(
        parseMultusDefaultNetwork({ [MULTUS_ANNOTATION.defaultNetwork]: 'ipvlan-eth0' }, 'spiderpool'),
        sel('spiderpool', 'ipvlan-eth0', 'eth0'),
      );
    });
    it('reads the JSON form', () => {
      assert.deepEqual(
        parseMultusDefaultNetwork(
          { [MULTUS_ANNOTATION.defaultNetwork]: '[{"name":"ipvlan-eth0","namespace":"kube-system"}]' },
          'spiderpool',
        ),
        sel('kube-system', 'ipvlan-eth0', 'eth0'),
      );
    });
    it('is undefined without the annotation', () =>
      assert.equal(parseMultusDefaultNetwork({}, 'spiderpool'), undefined));
    it('refuses more than one network', () => {
      assert.throws(() => parseMultusDefaultNetwork({ [MULTUS_ANNOTATION.defaultNetwork]: 'a,b' }, 'spiderpool'), {
        reason: 'WrongInput',
        message: /v1\.multus-cni\.io\/default-network is invalid: must name exactly one network, found 2/,
      });
    });
  });

  describe('nicNetwork', () => {
    const base = { installNamespace: 'spiderpool', multusClusterNetwork: 'kube-system/calico' };
    const cases: [
      title: string,
      pod: V1Pod,
      nic: string,
      firstNic: boolean,
      cluster: string | undefined,
      expected: ReturnType<typeof nicNetwork>,
    ][] = [
      [
        'eth0 uses the pod default-network',
        podWith({ [MULTUS_ANNOTATION.defaultNetwork]: 'kube-system/ipvlan-eth0' }),
        'eth0',
        true,
        base.multusClusterNetwork,
        { network: 'kube-system/ipvlan-eth0' },
      ],
      [
        'eth0 falls back to the cluster network',
        podWith({}),
        'eth0',
        true,
        base.multusClusterNetwork,
        { network: 'kube-system/calico' },
      ],
      [
        'a bare cluster network is in the install namespace',
        podWith({}),
        'eth0',
        true,
        'calico',
        { network: 'spiderpool/calico' },
      ],
      [
        'eth0 without either is unknown',
        podWith({}),
        'eth0',
        true,
        undefined,
        {
          unknown:
            'the pod has no v1.multus-cni.io/default-network annotation and no Multus cluster network is configured',
        },
      ],
      [
        'an empty cluster network name is unknown',
        podWith({}),
        'eth0',
        true,
        'kube-system/',
        { unknown: 'the Multus cluster network "kube-system/" names no NetworkAttachmentDefinition' },
      ],
      [
        'net1 is the first extra network',
        podWith({ [MULTUS_ANNOTATION.networks]: 'macvlan-ens192,kube-system/sriov' }),
        'net1',
        false,
        undefined,
        { network: 'default/macvlan-ens192' },
      ],
      [
        'net2 is the second',
        podWith({ [MULTUS_ANNOTATION.networks]: 'macvlan-ens192,kube-system/sriov' }),
        'net2',
        false,
        undefined,
        { network: 'kube-system/sriov' },
      ],
      [
        'a requested interface name',
        podWith({ [MULTUS_ANNOTATION.networks]: 'macvlan-ens192@ens1,kube-system/sriov@ens2' }),
        'ens2',
        false,
        undefined,
        { network: 'kube-system/sriov' },
      ],
      [
        'an interface not in the annotation',
        podWith({ [MULTUS_ANNOTATION.networks]: 'macvlan-ens192' }),
        'net2',
        false,
        undefined,
        { unknown: 'k8s.v1.cni.cncf.io/networks has no entry for net2 (its interfaces: net1)' },
      ],
      [
        'no networks annotation',
        podWith({}),
        'net1',
        false,
        undefined,
        { unknown: 'the pod has no k8s.v1.cni.cncf.io/networks annotation' },
      ],
    ];
    for (const [title, pod, nic, firstNic, cluster, expected] of cases) {
      it(title, () => {
        assert.deepEqual(
          nicNetwork({
            pod,
            nic,
            firstNic,
            installNamespace: base.installNamespace,
            ...(cluster === undefined ? {} : { multusClusterNetwork: cluster }),
          }),
          expected,
        );
      });
    }
  });
});
