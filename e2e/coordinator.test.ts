// The SpiderCoordinator reconciler on the real apiserver: the `default` coordinator's status follows
// kube-system/kubeadm-config, a kube-controller-manager pod's flags and Calico IPPools.
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi, type V1ConfigMap } from '@kubernetes/client-node';
import type { SpiderCoordinator, SpiderCoordinatorStatus } from '../api/v2beta1/types.ts';
import { GROUP, VERSION } from '../api/v2beta1/constants.ts';
import { isNotFound } from '../lib/kube.ts';
import { MANAGED_BY, MANAGED_BY_LABEL } from '../operator/calico/calico-ippool.ts';
import { createCoordinatorReconciler } from '../operator/coordinator/reconciler.ts';
import type { RunningOperator } from '../operator/runtime/types.ts';
import { repoRoot } from './cluster/install.ts';
import { kubectlOk } from './cluster/kubectl.ts';
import { testCluster, type TestCluster } from './harness/cluster.ts';
import { runOperator } from './harness/operator.ts';
import { eventually } from './harness/wait.ts';

const NS = 'kube-system';
const KCM_POD = 'kube-controller-manager-coordinator-e2e';
const CALICO_POOLS = ['coordinator-e2e-default-ipv4', 'coordinator-e2e-bgp'];
const clusterConfiguration = (networking: string) => `apiVersion: kubeadm.k8s.io/v1beta2
kind: ClusterConfiguration
kubernetesVersion: v1.20.2
networking:
  dnsDomain: cluster.local
${networking}`;

describe('SpiderCoordinator reconciler', function () {
  this.timeout(120_000);
  let c: TestCluster;
  let core: CoreV1Api;
  let custom: CustomObjectsApi;
  let operator: RunningOperator | undefined;
  let saved: SpiderCoordinator | undefined;
  const stashed: V1ConfigMap[] = [];

  const scc = { group: GROUP, version: VERSION, plural: 'spidercoordinators' };
  const calicoApi = { group: 'crd.projectcalico.org', version: 'v1', plural: 'ippools' };
  const readDefault = async () =>
    (await custom.getClusterCustomObject({ ...scc, name: 'default' })) as SpiderCoordinator;
  const deleteDefault = async () => {
    await custom
      .patchClusterCustomObject({
        ...scc,
        name: 'default',
        body: [{ op: 'replace', path: '/metadata/finalizers', value: [] }],
      })
      .catch(() => undefined);
    await custom.deleteClusterCustomObject({ ...scc, name: 'default' }).catch((e: unknown) => {
      if (!isNotFound(e)) throw e;
    });
    await eventually(
      'the default SpiderCoordinator to be gone',
      30_000,
      async () =>
        await readDefault().then(
          () => undefined,
          (e: unknown) => (isNotFound(e) ? true : undefined),
        ),
    );
  };
  const setType = (podCIDRType: string) =>
    custom.patchClusterCustomObject({
      ...scc,
      name: 'default',
      body: [{ op: 'replace', path: '/spec/podCIDRType', value: podCIDRType }],
    });
  const statusBecomes = (what: string, want: (s: SpiderCoordinatorStatus) => boolean) =>
    eventually(`the default SpiderCoordinator ${what}`, 30_000, async () => {
      const status = (await readDefault()).status;
      return status && want(status) ? status : undefined;
    });
  const synced = (overlayPodCIDR: string[], serviceCIDR: string[]) =>
    statusBecomes(
      `Synced with ${overlayPodCIDR} / ${serviceCIDR}`,
      (s) =>
        s.phase === 'Synced' &&
        JSON.stringify(s.overlayPodCIDR) === JSON.stringify(overlayPodCIDR) &&
        JSON.stringify(s.serviceCIDR) === JSON.stringify(serviceCIDR),
    );
  const notReady = async (reason: RegExp) => {
    const s = await statusBecomes(
      `NotReady matching ${reason}`,
      (st) => st.phase === 'NotReady' && reason.test(st.reason ?? ''),
    );
    assert.deepEqual([s.overlayPodCIDR, s.serviceCIDR], [[], []]);
    return s;
  };
  const putKubeadmConfig = async (networking: string) => {
    const body = {
      metadata: { name: 'kubeadm-config', namespace: NS },
      data: { ClusterConfiguration: clusterConfiguration(networking) },
    };
    await core.replaceNamespacedConfigMap({ name: 'kubeadm-config', namespace: NS, body }).catch(async (e: unknown) => {
      if (!isNotFound(e)) throw e;
      await core.createNamespacedConfigMap({ namespace: NS, body });
    });
  };
  const deleteConfigMap = (name: string) =>
    core.deleteNamespacedConfigMap({ name, namespace: NS }).catch((e: unknown) => {
      if (!isNotFound(e)) throw e;
    });
  const calicoPool = (name: string, spec: Record<string, unknown>, labels: Record<string, string> = {}) =>
    custom.createClusterCustomObject({
      ...calicoApi,
      body: { apiVersion: 'crd.projectcalico.org/v1', kind: 'IPPool', metadata: { name, labels }, spec },
    });
  const deleteCalicoPool = (name: string) =>
    custom.deleteClusterCustomObject({ ...calicoApi, name }).catch((e: unknown) => {
      if (!isNotFound(e)) throw e;
    });

  before(async function () {
    this.timeout(300_000);
    c = await testCluster();
    core = c.kubeConfig.makeApiClient(CoreV1Api);
    custom = c.kubeConfig.makeApiClient(CustomObjectsApi);
    // The cluster is shared: whatever another test left in the places this reconciler reads is put
    // aside here and restored afterwards.
    saved = await readDefault().catch((e: unknown) => {
      if (isNotFound(e)) return undefined;
      throw e;
    });
    if (saved) await deleteDefault();
    for (const name of ['kubeadm-config', 'cilium-config']) {
      const existing = await core.readNamespacedConfigMap({ name, namespace: NS }).catch((e: unknown) => {
        if (isNotFound(e)) return undefined;
        throw e;
      });
      if (existing) {
        stashed.push(existing);
        await deleteConfigMap(name);
      }
    }
    const kcms = await core.listNamespacedPod({ namespace: NS, labelSelector: 'component=kube-controller-manager' });
    assert.equal(kcms.items.length, 0, 'no kube-controller-manager pod runs in the test cluster');
    await kubectlOk(c.kubectl, ['apply', '-f', join(repoRoot, 'e2e', 'crds', 'calico-ippools.yaml')]);
    await kubectlOk(c.kubectl, [
      'wait',
      '--for=condition=Established',
      '--timeout=30s',
      'crd/ippools.crd.projectcalico.org',
    ]);
    // The operator need not run on a node: without the host CNI directory `auto` decides from the cluster.
    operator = await runOperator(c.kubeConfig, [
      (ctx) => createCoordinatorReconciler(ctx, { cniConfigDir: join(tmpdir(), 'spiderpool-e2e-no-cni-dir') }),
    ]);
  });

  after(async () => {
    await operator?.stop();
    if (!c) return;
    await deleteDefault();
    await deleteConfigMap('kubeadm-config');
    await core.deleteNamespacedPod({ name: KCM_POD, namespace: NS, gracePeriodSeconds: 0 }).catch(() => undefined);
    for (const name of CALICO_POOLS) await deleteCalicoPool(name);
    await c.kubectl(['delete', '-f', join(repoRoot, 'e2e', 'crds', 'calico-ippools.yaml'), '--ignore-not-found']);
    for (const cm of stashed) {
      await core.createNamespacedConfigMap({
        namespace: NS,
        body: {
          metadata: { name: cm.metadata?.name, labels: cm.metadata?.labels, annotations: cm.metadata?.annotations },
          data: cm.data,
        },
      });
    }
    if (saved) {
      const { name, labels, annotations } = saved.metadata;
      const created = (await custom.createClusterCustomObject({
        ...scc,
        body: {
          apiVersion: saved.apiVersion,
          kind: saved.kind,
          metadata: { name, labels, annotations },
          spec: saved.spec,
        },
      })) as SpiderCoordinator;
      if (saved.status)
        await custom.replaceClusterCustomObjectStatus({ ...scc, name, body: { ...created, status: saved.status } });
    }
  });

  it('with nothing to detect, the default coordinator is NotReady and the reason says what was looked for', async () => {
    await custom.createClusterCustomObject({
      ...scc,
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'SpiderCoordinator',
        metadata: { name: 'default' },
        spec: { podCIDRType: 'cluster' },
      },
    });
    const s = await notReady(/^no pod CIDR found: /);
    assert.equal(
      s.reason,
      'no pod CIDR found: kube-system/kubeadm-config not found, no kube-controller-manager pod in kube-system (label component=kube-controller-manager); ' +
        'no service CIDR found: kube-system/kubeadm-config not found, no kube-controller-manager pod in kube-system (label component=kube-controller-manager)',
    );
  });

  it('kubeadm-config with podSubnet 10.244.64.0/18 and serviceSubnet 10.233.0.0/18 makes it Synced with those CIDRs', async () => {
    await putKubeadmConfig('  podSubnet: 10.244.64.0/18\n  serviceSubnet: 10.233.0.0/18\n');
    const s = await synced(['10.244.64.0/18'], ['10.233.0.0/18']);
    assert.equal(s.reason ?? '', '');
  });

  it('follows edits of kubeadm-config, and its deletion', async () => {
    await putKubeadmConfig(
      '  podSubnet: 10.244.64.0/18,fd00:10:244::/64\n  serviceSubnet: 10.233.0.0/18,fd00:10:233::/112\n',
    );
    await synced(['10.244.64.0/18', 'fd00:10:244::/64'], ['10.233.0.0/18', 'fd00:10:233::/112']);
    await putKubeadmConfig('  podSubnet: not-a-cidr\n  serviceSubnet: 10.233.0.0/18\n');
    await notReady(
      /^no pod CIDR found: kube-system\/kubeadm-config networking.podSubnet "not-a-cidr" is not a valid CIDR, no kube-controller-manager pod/,
    );
    await deleteConfigMap('kubeadm-config');
    await notReady(/kube-system\/kubeadm-config not found/);
  });

  it('falls back to the flags of a kube-controller-manager pod in kube-system', async () => {
    await core.createNamespacedPod({
      namespace: NS,
      body: {
        metadata: { name: KCM_POD, labels: { component: 'kube-controller-manager', tier: 'control-plane' } },
        spec: {
          // Never scheduled: only its spec matters.
          nodeSelector: { 'spiderpool.spidernet.io/e2e-never': 'true' },
          automountServiceAccountToken: false,
          containers: [
            {
              name: 'kube-controller-manager',
              image: 'k8s.gcr.io/kube-controller-manager:v1.20.2',
              command: [
                'kube-controller-manager',
                '--allocate-node-cidrs=true',
                '--cluster-cidr=10.244.0.0/16',
                '--service-cluster-ip-range=10.96.0.0/12',
              ],
            },
          ],
        },
      },
    });
    await synced(['10.244.0.0/16'], ['10.96.0.0/12']);
    // kubeadm-config, when present, comes first; a list it lacks still comes from the pod.
    await putKubeadmConfig('  podSubnet: 10.244.64.0/18\n');
    await synced(['10.244.64.0/18'], ['10.96.0.0/12']);
    await deleteConfigMap('kubeadm-config');
    await core.deleteNamespacedPod({ name: KCM_POD, namespace: NS, gracePeriodSeconds: 0 });
    await notReady(/no kube-controller-manager pod in kube-system/);
  });

  it('calico: the enabled Calico IPPools, not the ones advertising Spiderpool subnets', async () => {
    await putKubeadmConfig('  podSubnet: 10.244.64.0/18\n  serviceSubnet: 10.233.0.0/18\n');
    await setType('calico');
    await notReady(/^no pod CIDR found: no enabled Calico IPPool \(crd.projectcalico.org\/v1\)$/);
    await calicoPool(CALICO_POOLS[0]!, { cidr: '10.233.64.0/18', ipipMode: 'Always', natOutgoing: true });
    await calicoPool(
      CALICO_POOLS[1]!,
      { cidr: '10.6.0.0/16', ipipMode: 'Never', vxlanMode: 'Never' },
      { [MANAGED_BY_LABEL]: MANAGED_BY },
    );
    await synced(['10.233.64.0/18'], ['10.233.0.0/18']);
    await custom.patchClusterCustomObject({
      ...calicoApi,
      name: CALICO_POOLS[0]!,
      body: [{ op: 'add', path: '/spec/disabled', value: true }],
    });
    await notReady(/no enabled Calico IPPool/);
  });

  it('auto without a CNI directory: Calico IPPools decide, else the cluster pod CIDR', async () => {
    await custom.patchClusterCustomObject({
      ...calicoApi,
      name: CALICO_POOLS[0]!,
      body: [{ op: 'replace', path: '/spec/disabled', value: false }],
    });
    await setType('auto');
    await synced(['10.233.64.0/18'], ['10.233.0.0/18']);
    await deleteCalicoPool(CALICO_POOLS[0]!);
    await synced(['10.244.64.0/18'], ['10.233.0.0/18']);
    await deleteConfigMap('kubeadm-config');
    const s = await notReady(/^no pod CIDR found: /);
    assert.match(
      s.reason ?? '',
      /no Calico IPPool, no kube-system\/cilium-config, no CNI configuration directory .*spiderpool-e2e-no-cni-dir; no service CIDR found: /,
    );
  });
});
