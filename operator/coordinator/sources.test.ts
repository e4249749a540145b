import assert from 'node:assert/strict';
import type { V1ConfigMap, V1Pod } from '@kubernetes/client-node';
import { MANAGED_BY, MANAGED_BY_LABEL, type CalicoIPPool } from '../calico/calico-ippool.ts';
import { controllerManagerCIDRs, flagValue } from './controller-manager.ts';
import { byCreation, parseCIDRList } from './found.ts';
import { kubeadmCIDRs } from './kubeadm-config.ts';
import { calicoCIDRs, ciliumCIDRs, type CiliumPodIPPool } from './overlay-pools.ts';

const cm = (name: string, data: Record<string, string>): V1ConfigMap => ({
  metadata: { name, namespace: 'kube-system' },
  data,
});
const kubeadm = (clusterConfiguration: string) => cm('kubeadm-config', { ClusterConfiguration: clusterConfiguration });
const kcm = (
  name: string,
  command: string[],
  args: string[] = [],
  extra: Partial<NonNullable<V1Pod['metadata']>> = {},
): V1Pod => ({
  metadata: { name, namespace: 'kube-system', labels: { component: 'kube-controller-manager' }, ...extra },
  spec: { containers: [{ name: 'kube-controller-manager', command, args }] },
});

describe('coordinator CIDR sources', () => {
  describe('CIDR lists', () => {
    it('splits on commas and spaces, canonicalises, drops repeats and names invalid entries', () => {
      assert.deepEqual(parseCIDRList('10.244.64.5/18, fd00:10:244:0:0::/64,10.244.64.0/18 bogus', 'X y'), {
        cidrs: ['10.244.64.0/18', 'fd00:10:244::/64'],
        problems: ['X y "bogus" is not a valid CIDR'],
      });
    });

    it('orders by creation time, then name, with string or Date timestamps', () => {
      const items = [
        { metadata: { name: 'c', creationTimestamp: '2024-01-02T00:00:00Z' } },
        { metadata: { name: 'b', creationTimestamp: new Date('2024-01-01T00:00:00Z') } },
        { metadata: { name: 'a', creationTimestamp: '2024-01-01T00:00:00Z' } },
      ];
      assert.deepEqual(
        byCreation(items).map((i) => i.metadata.name),
        ['a', 'b', 'c'],
      );
    });
  });

  describe('kube-system/kubeadm-config', () => {
    const config = `apiVersion: kubeadm.k8s.io/v1beta3
kind: ClusterConfiguration
kubernetesVersion: v1.28.2
networking:
  dnsDomain: cluster.local
  podSubnet: 10.244.64.0/18
  serviceSubnet: 10.233.0.0/18
`;

    it('reads networking.podSubnet and networking.serviceSubnet', () => {
      assert.deepEqual(kubeadmCIDRs(kubeadm(config)), {
        pod: { cidrs: ['10.244.64.0/18'], problems: [] },
        service: { cidrs: ['10.233.0.0/18'], problems: [] },
      });
    });

    it('reads dual-stack lists', () => {
      const r = kubeadmCIDRs(
        kubeadm(
          'networking:\n  podSubnet: "10.244.0.0/16,fd00:10:244::/56"\n  serviceSubnet: 10.233.0.0/18,fd00:10:233::/112\n',
        ),
      );
      assert.deepEqual(r.pod.cidrs, ['10.244.0.0/16', 'fd00:10:244::/56']);
      assert.deepEqual(r.service.cidrs, ['10.233.0.0/18', 'fd00:10:233::/112']);
    });

    it('a podSubnet key elsewhere in the document (not under networking) does not count', () => {
      const r = kubeadmCIDRs(
        kubeadm(
          'controllerManager:\n  extraArgs:\n    podSubnet: 10.1.0.0/16\nnetworking:\n  serviceSubnet: 10.96.0.0/12\n',
        ),
      );
      assert.deepEqual(r.pod, { cidrs: [], problems: ['kube-system/kubeadm-config has no networking.podSubnet'] });
      assert.deepEqual(r.service.cidrs, ['10.96.0.0/12']);
    });

    const broken: [title: string, map: V1ConfigMap | undefined, problem: string][] = [
      ['absent', undefined, 'kube-system/kubeadm-config not found'],
      [
        'without ClusterConfiguration',
        cm('kubeadm-config', { ClusterStatus: 'x' }),
        'kube-system/kubeadm-config has no data.ClusterConfiguration',
      ],
      [
        'with broken YAML',
        kubeadm('networking: [unclosed'),
        'kube-system/kubeadm-config data.ClusterConfiguration is not valid YAML: ',
      ],
      ['with a scalar document', kubeadm('just text'), 'kube-system/kubeadm-config has no networking.podSubnet'],
      [
        'without networking',
        kubeadm('kind: ClusterConfiguration\n'),
        'kube-system/kubeadm-config has no networking.podSubnet',
      ],
      [
        'with a list as podSubnet',
        kubeadm('networking:\n  podSubnet: [10.0.0.0/8]\n'),
        'kube-system/kubeadm-config networking.podSubnet is not a string',
      ],
      [
        'with an invalid podSubnet',
        kubeadm('networking:\n  podSubnet: 10.0.0.0/33\n'),
        'kube-system/kubeadm-config networking.podSubnet "10.0.0.0/33" is not a valid CIDR',
      ],
    ];
    for (const [title, map, problem] of broken) {
      it(`${title}: no pod CIDR, and the problem says what was looked for`, () => {
        const r = kubeadmCIDRs(map);
        assert.deepEqual(r.pod.cidrs, []);
        assert.equal(r.pod.problems.length, 1);
        assert.ok(r.pod.problems[0]!.startsWith(problem), r.pod.problems[0]);
      });
    }
  });

  describe('kube-controller-manager flags', () => {
    it('reads --flag=value and --flag value, from command and then args, also inside a shell line', () => {
      assert.equal(
        flagValue(kcm('a', ['kube-controller-manager', '--cluster-cidr=10.244.0.0/16']), '--cluster-cidr'),
        '10.244.0.0/16',
      );
      assert.equal(
        flagValue(kcm('a', ['kube-controller-manager'], ['--cluster-cidr', '10.1.0.0/16']), '--cluster-cidr'),
        '10.1.0.0/16',
      );
      assert.equal(
        flagValue(
          kcm('a', ['sh', '-c', 'exec kube-controller-manager --cluster-cidr=10.2.0.0/16 --v=2']),
          '--cluster-cidr',
        ),
        '10.2.0.0/16',
      );
      assert.equal(flagValue(kcm('a', ['kube-controller-manager', '--cluster-cidr-x=1']), '--cluster-cidr'), undefined);
      assert.equal(flagValue(kcm('a', ['kube-controller-manager', '--cluster-cidr']), '--cluster-cidr'), undefined);
    });

    it('takes pod and Service CIDRs from the first pod (by name) that has each flag', () => {
      const r = controllerManagerCIDRs([
        kcm('kube-controller-manager-master2', ['kube-controller-manager', '--cluster-cidr=10.9.0.0/16']),
        kcm('kube-controller-manager-master1', [
          'kube-controller-manager',
          '--cluster-cidr=10.244.0.0/16,fd00::/48',
          '--service-cluster-ip-range=10.96.0.0/12',
        ]),
      ]);
      assert.deepEqual(r, {
        pod: { cidrs: ['10.244.0.0/16', 'fd00::/48'], problems: [] },
        service: { cidrs: ['10.96.0.0/12'], problems: [] },
      });
    });

    it('ignores pods without the label and pods being deleted', () => {
      const unlabelled: V1Pod = {
        ...kcm('x', ['kube-controller-manager', '--cluster-cidr=10.0.0.0/8']),
        metadata: { name: 'x', labels: { app: 'y' } },
      };
      const deleting = kcm('y', ['kube-controller-manager', '--cluster-cidr=10.0.0.0/8'], [], {
        deletionTimestamp: new Date(),
      });
      assert.deepEqual(controllerManagerCIDRs([unlabelled, deleting]).pod, {
        cidrs: [],
        problems: ['no kube-controller-manager pod in kube-system (label component=kube-controller-manager)'],
      });
    });

    it('names the pods that lack the flag', () => {
      assert.deepEqual(controllerManagerCIDRs([kcm('kcm-1', ['kube-controller-manager'])]).service, {
        cidrs: [],
        problems: ['no kube-controller-manager pod with --service-cluster-ip-range (kube-system/kcm-1)'],
      });
    });
  });

  describe('Calico IPPools', () => {
    const pool = (
      name: string,
      cidr: string,
      extra: Partial<CalicoIPPool> & { created?: string } = {},
    ): CalicoIPPool => ({
      metadata: {
        name,
        creationTimestamp: (extra.created ?? '2024-01-01T00:00:00Z') as unknown as Date,
        ...extra.metadata,
      },
      spec: { cidr, ...extra.spec },
    });

    it('enabled pools, oldest first; disabled, deleting and our own BGP pools are not overlay CIDRs', () => {
      const r = calicoCIDRs([
        pool('v6', 'fd00:10:233:64::/64', { created: '2024-01-02T00:00:00Z' }),
        pool('default-ipv4-ippool', '10.233.64.0/18'),
        pool('old', '10.1.0.0/16', { spec: { disabled: true } }),
        pool('going', '10.2.0.0/16', { metadata: { deletionTimestamp: new Date() } }),
        pool('spiderpool-10-244-0-0-16', '10.244.0.0/16', { metadata: { labels: { [MANAGED_BY_LABEL]: MANAGED_BY } } }),
      ]);
      assert.deepEqual(r, { cidrs: ['10.233.64.0/18', 'fd00:10:233:64::/64'], problems: [] });
    });

    it('none: the problem says so', () => {
      assert.deepEqual(calicoCIDRs([]), {
        cidrs: [],
        problems: ['no enabled Calico IPPool (crd.projectcalico.org/v1)'],
      });
    });
  });

  describe('cilium-config', () => {
    const clusterPod = { cidrs: ['10.244.0.0/16'], problems: [] };
    const cilium = (data: Record<string, string>) => cm('cilium-config', data);

    it('cluster-pool (also the default when ipam is unset) reads both families', () => {
      const data = { 'cluster-pool-ipv4-cidr': '10.0.0.0/8', 'cluster-pool-ipv6-cidr': 'fd00::/104' };
      assert.deepEqual(ciliumCIDRs(cilium({ ipam: 'cluster-pool', ...data }), clusterPod, []).cidrs, [
        '10.0.0.0/8',
        'fd00::/104',
      ]);
      assert.deepEqual(
        ciliumCIDRs(
          cilium({ ipam: 'cluster-pool-v2beta', 'cluster-pool-ipv4-cidr': '10.0.0.0/8 11.0.0.0/8' }),
          clusterPod,
          [],
        ).cidrs,
        ['10.0.0.0/8', '11.0.0.0/8'],
      );
      assert.deepEqual(ciliumCIDRs(cilium(data), clusterPod, []).cidrs, ['10.0.0.0/8', 'fd00::/104']);
    });

    it('kubernetes mode uses the cluster pod CIDRs; multi-pool the CiliumPodIPPools', () => {
      assert.equal(ciliumCIDRs(cilium({ ipam: 'kubernetes' }), clusterPod, []), clusterPod);
      const pools: CiliumPodIPPool[] = [
        {
          metadata: { name: 'b', creationTimestamp: new Date('2024-02-01') },
          spec: { ipv4: { cidrs: ['10.20.0.0/16'] } },
        },
        {
          metadata: { name: 'a', creationTimestamp: new Date('2024-01-01') },
          spec: { ipv4: { cidrs: ['10.10.0.0/16'] }, ipv6: { cidrs: ['fd10::/96'] } },
        },
      ];
      assert.deepEqual(ciliumCIDRs(cilium({ ipam: 'multi-pool' }), clusterPod, pools).cidrs, [
        '10.10.0.0/16',
        'fd10::/96',
        '10.20.0.0/16',
      ]);
    });

    const failures: [title: string, map: V1ConfigMap | undefined, pools: CiliumPodIPPool[], problem: string][] = [
      ['absent', undefined, [], 'kube-system/cilium-config not found'],
      [
        'cluster-pool without CIDRs',
        cilium({ ipam: 'cluster-pool' }),
        [],
        'kube-system/cilium-config has no cluster-pool-ipv4-cidr or cluster-pool-ipv6-cidr',
      ],
      [
        'an invalid CIDR',
        cilium({ 'cluster-pool-ipv4-cidr': '10.0.0.0' }),
        [],
        'kube-system/cilium-config cluster-pool-ipv4-cidr "10.0.0.0" is not a valid CIDR',
      ],
      [
        'multi-pool without pools',
        cilium({ ipam: 'multi-pool' }),
        [],
        'no CiliumPodIPPool (cilium.io/v2alpha1) for kube-system/cilium-config ipam multi-pool',
      ],
      [
        'an unsupported mode',
        cilium({ ipam: 'eni' }),
        [],
        'kube-system/cilium-config ipam "eni" is not supported (supported: cluster-pool, cluster-pool-v2beta, multi-pool, kubernetes)',
      ],
    ];
    for (const [title, map, pools, problem] of failures) {
      it(`${title}: no CIDR, with the reason`, () => {
        assert.deepEqual(ciliumCIDRs(map, clusterPod, pools), { cidrs: [], problems: [problem] });
      });
    }
  });
});
