import assert from 'node:assert/strict';
import type { V1ConfigMap, V1Pod } from '@kubernetes/client-node';
import { MANAGED_BY, MANAGED_BY_LABEL, type CalicoIPPool } from '../calico/calico-ippool.ts';
import { coordinatorStatus, type CoordinatorInputs } from './status.ts';

const kubeadm = (networking: string): V1ConfigMap => ({
  metadata: { name: 'kubeadm-config', namespace: 'kube-system' },
  data: { ClusterConfiguration: `networking:\n${networking}` },
});
const acceptance = kubeadm('  podSubnet: 10.244.64.0/18\n  serviceSubnet: 10.233.0.0/18\n');
const kcm = (...flags: string[]): V1Pod => ({
  metadata: {
    name: 'kube-controller-manager-master1',
    namespace: 'kube-system',
    labels: { component: 'kube-controller-manager' },
  },
  spec: { containers: [{ name: 'kcm', command: ['kube-controller-manager', ...flags] }] },
});
const calico = (name: string, cidr: string, owned = false): CalicoIPPool => ({
  metadata: { name, ...(owned ? { labels: { [MANAGED_BY_LABEL]: MANAGED_BY } } : {}) },
  spec: { cidr },
});
const cilium: V1ConfigMap = {
  metadata: { name: 'cilium-config', namespace: 'kube-system' },
  data: { ipam: 'cluster-pool', 'cluster-pool-ipv4-cidr': '10.0.0.0/8' },
};
const inputs = (over: Partial<CoordinatorInputs>): CoordinatorInputs => ({
  podCIDRType: 'cluster',
  kubeSystemPods: [],
  calicoPools: [],
  ciliumPodIPPools: [],
  serviceCIDRs: [],
  ...over,
});
const NO_KUBEADM = 'kube-system/kubeadm-config not found';
const NO_KCM = 'no kube-controller-manager pod in kube-system (label component=kube-controller-manager)';

describe('SpiderCoordinator status', () => {
  it('cluster: kubeadm-config podSubnet and serviceSubnet give Synced', () => {
    assert.deepEqual(coordinatorStatus(inputs({ kubeadmConfig: acceptance })).status, {
      phase: 'Synced',
      overlayPodCIDR: ['10.244.64.0/18'],
      serviceCIDR: ['10.233.0.0/18'],
    });
  });

  it('nothing to detect: NotReady, both lists emptied, and the reason lists what was looked for', () => {
    assert.deepEqual(coordinatorStatus(inputs({})).status, {
      phase: 'NotReady',
      reason: `no pod CIDR found: ${NO_KUBEADM}, ${NO_KCM}; no service CIDR found: ${NO_KUBEADM}, ${NO_KCM}`,
      overlayPodCIDR: [],
      serviceCIDR: [],
    });
  });

  it('each list falls back to the kube-controller-manager flags on its own', () => {
    const r = coordinatorStatus(
      inputs({
        kubeadmConfig: kubeadm('  podSubnet: 10.244.0.0/16\n'),
        kubeSystemPods: [kcm('--cluster-cidr=10.9.0.0/16', '--service-cluster-ip-range=10.96.0.0/12')],
      }),
    );
    assert.deepEqual(r.status, { phase: 'Synced', overlayPodCIDR: ['10.244.0.0/16'], serviceCIDR: ['10.96.0.0/12'] });
  });

  it('a half-found status is NotReady with only the missing part explained', () => {
    const r = coordinatorStatus(
      inputs({
        kubeadmConfig: kubeadm('  serviceSubnet: 10.233.0.0/18\n'),
        kubeSystemPods: [kcm('--service-cluster-ip-range=10.96.0.0/12')],
      }),
    );
    assert.deepEqual(r.status, {
      phase: 'NotReady',
      reason:
        'no pod CIDR found: kube-system/kubeadm-config has no networking.podSubnet, no kube-controller-manager pod with --cluster-cidr (kube-system/kube-controller-manager-master1)',
      overlayPodCIDR: [],
      serviceCIDR: [],
    });
  });

  it('invalid entries next to valid ones are skipped and reported as notes', () => {
    const r = coordinatorStatus(
      inputs({ kubeadmConfig: kubeadm('  podSubnet: 10.244.0.0/16,fd00::/333\n  serviceSubnet: 10.233.0.0/18\n') }),
    );
    assert.deepEqual(r.status.overlayPodCIDR, ['10.244.0.0/16']);
    assert.deepEqual(r.notes, ['kube-system/kubeadm-config networking.podSubnet "fd00::/333" is not a valid CIDR']);
  });

  it('ServiceCIDR objects, when the API exists, win over kubeadm-config', () => {
    const r = coordinatorStatus(
      inputs({
        kubeadmConfig: acceptance,
        serviceCIDRs: [
          {
            metadata: { name: 'extra', creationTimestamp: new Date('2025-02-01') },
            spec: { cidrs: ['10.100.0.0/16'] },
          },
          {
            metadata: { name: 'kubernetes', creationTimestamp: new Date('2025-01-01') },
            spec: { cidrs: ['10.96.0.0/12', 'fd00:96::/112'] },
          },
          { metadata: { name: 'going', deletionTimestamp: new Date() }, spec: { cidrs: ['10.200.0.0/16'] } },
        ],
      }),
    );
    assert.deepEqual(r.status.serviceCIDR, ['10.96.0.0/12', 'fd00:96::/112', '10.100.0.0/16']);
  });

  it('calico: enabled Calico pools, not our own BGP pools, and no fallback to the cluster pod CIDR', () => {
    const synced = coordinatorStatus(
      inputs({
        podCIDRType: 'calico',
        kubeadmConfig: acceptance,
        calicoPools: [
          calico('default-ipv4-ippool', '10.233.64.0/18'),
          calico('spiderpool-10-244-0-0-16', '10.244.0.0/16', true),
        ],
      }),
    );
    assert.deepEqual(synced.status, {
      phase: 'Synced',
      overlayPodCIDR: ['10.233.64.0/18'],
      serviceCIDR: ['10.233.0.0/18'],
    });
    const none = coordinatorStatus(inputs({ podCIDRType: 'calico', kubeadmConfig: acceptance }));
    assert.deepEqual(none.status, {
      phase: 'NotReady',
      reason: 'no pod CIDR found: no enabled Calico IPPool (crd.projectcalico.org/v1)',
      overlayPodCIDR: [],
      serviceCIDR: [],
    });
  });

  it('cilium: cilium-config, with the Service CIDR from the cluster', () => {
    assert.deepEqual(
      coordinatorStatus(inputs({ podCIDRType: 'cilium', kubeadmConfig: acceptance, ciliumConfig: cilium })).status,
      {
        phase: 'Synced',
        overlayPodCIDR: ['10.0.0.0/8'],
        serviceCIDR: ['10.233.0.0/18'],
      },
    );
    assert.equal(
      coordinatorStatus(inputs({ podCIDRType: 'cilium', kubeadmConfig: acceptance })).status.reason,
      'no pod CIDR found: kube-system/cilium-config not found',
    );
  });

  it('none: no overlay CIDR, Synced once the Service CIDR is known', () => {
    assert.deepEqual(
      coordinatorStatus(inputs({ podCIDRType: 'none', kubeadmConfig: kubeadm('  serviceSubnet: 10.233.0.0/18\n') }))
        .status,
      {
        phase: 'Synced',
        overlayPodCIDR: [],
        serviceCIDR: ['10.233.0.0/18'],
      },
    );
    assert.deepEqual(
      coordinatorStatus(inputs({ podCIDRType: 'none' })).status.reason,
      `no service CIDR found: ${NO_KUBEADM}, ${NO_KCM}`,
    );
  });

  describe('auto', () => {
    it('follows the default CNI of the host CNI directory', () => {
      const r = coordinatorStatus(
        inputs({
          podCIDRType: 'auto',
          defaultCni: { file: '/etc/cni/net.d/10-calico.conflist', name: 'k8s-pod-network' },
          kubeadmConfig: acceptance,
        }),
      );
      assert.equal(r.type, 'calico');
      assert.equal(r.status.reason, 'no pod CIDR found: no enabled Calico IPPool (crd.projectcalico.org/v1)');
      const other = coordinatorStatus(
        inputs({
          podCIDRType: 'auto',
          defaultCni: { file: '/etc/cni/net.d/10-mynet.conf', name: 'mynet' },
          kubeadmConfig: acceptance,
        }),
      );
      assert.deepEqual([other.type, other.status.phase, other.status.overlayPodCIDR], ['none', 'Synced', []]);
    });

    it('an unreadable CNI configuration is NotReady', () => {
      const r = coordinatorStatus(
        inputs({
          podCIDRType: 'auto',
          defaultCni: { error: 'the default CNI configuration /x/10-a.conf has no "name"' },
          kubeadmConfig: acceptance,
        }),
      );
      assert.deepEqual(r.status, {
        phase: 'NotReady',
        reason: 'podCIDRType auto: the default CNI configuration /x/10-a.conf has no "name"',
        overlayPodCIDR: [],
        serviceCIDR: [],
      });
    });

    it('without a CNI directory: Calico pools, then cilium-config, then the cluster pod CIDR', () => {
      const absent = { absent: 'no CNI configuration directory /etc/cni/net.d' };
      const base = { podCIDRType: 'auto', defaultCni: absent, kubeadmConfig: acceptance };
      assert.equal(
        coordinatorStatus(inputs({ ...base, calicoPools: [calico('p', '10.233.64.0/18')], ciliumConfig: cilium })).type,
        'calico',
      );
      assert.equal(
        coordinatorStatus(
          inputs({ ...base, calicoPools: [calico('ours', '10.244.0.0/16', true)], ciliumConfig: cilium }),
        ).type,
        'cilium',
      );
      const cluster = coordinatorStatus(inputs(base));
      assert.deepEqual([cluster.type, cluster.status.overlayPodCIDR], ['cluster', ['10.244.64.0/18']]);
      assert.match(
        cluster.notes[0] ?? '',
        /podCIDRType auto: no CNI configuration directory \/etc\/cni\/net.d, no Calico IPPool and no kube-system\/cilium-config/,
      );
    });

    it('with nothing at all, the reason lists every place looked at', () => {
      const r = coordinatorStatus(
        inputs({ podCIDRType: 'auto', defaultCni: { absent: 'no CNI configuration directory /etc/cni/net.d' } }),
      );
      assert.equal(
        r.status.reason,
        `no pod CIDR found: ${NO_KUBEADM}, ${NO_KCM}, no Calico IPPool, no kube-system/cilium-config, no CNI configuration directory /etc/cni/net.d; ` +
          `no service CIDR found: ${NO_KUBEADM}, ${NO_KCM}`,
      );
    });
  });

  it('a missing or unknown podCIDRType is NotReady with the accepted values', () => {
    assert.equal(
      coordinatorStatus(inputs({ podCIDRType: undefined, kubeadmConfig: acceptance })).status.reason,
      'spec.podCIDRType is not set: it must be one of auto, cluster, calico, cilium, none',
    );
    assert.equal(
      coordinatorStatus(inputs({ podCIDRType: 'flannel', kubeadmConfig: acceptance })).status.reason,
      'spec.podCIDRType "flannel" is not one of auto, cluster, calico, cilium, none',
    );
  });
});
