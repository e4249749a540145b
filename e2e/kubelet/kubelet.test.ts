// The kubelet stand-in against the real control plane: a Deployment's pods get a macvlan eth0 and a
// net1 from a NetworkAttachmentDefinition, reach each other on both across the fabric, and deleting
// them runs CNI DEL; a pod whose NAD is missing reports FailedCreatePodSandBox and stays Pending.
import assert from 'node:assert/strict';
import { eventually } from '../harness/wait.ts';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, type V1Pod } from '@kubernetes/client-node';
import { testCluster, type TestCluster } from '../harness/cluster.ts';
import { createFabric, type Fabric, netnsWithPrefix } from './fabric.ts';
import { startKubelet, type Kubelet } from './kubelet.ts';
import { MULTUS_ANNOTATION } from '../../api/v2beta1/constants.ts';
import type { NetworkStatus } from './multus.ts';
import { ip, listNetns } from './netns.ts';

const run = randomBytes(3).toString('hex');
const prefix = `kt${run}`;
const namespace = `kubelet-${run}`;
const nodes = [`kt-${run}-a`, `kt-${run}-b`];
const clusterNet = `kt-${run}-cluster`;
const ens192Net = `kt-${run}-ens192`;
const eth1Net = `kt-${run}-eth1`;
const hostLocalDir = (network: string) => `/var/lib/cni/networks/${network}`;

function inSubnet(address: string, subnet: string): boolean {
  const toInt = (a: string) => a.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  const [base = '', len = '32'] = subnet.split('/');
  const size = 2 ** (32 - Number(len));
  return Math.floor(toInt(address) / size) === Math.floor(toInt(base) / size);
}

/** Addresses host-local still holds for a network (its state directory has one file per IP). */
function hostLocalIPs(network: string): string[] {
  return existsSync(hostLocalDir(network))
    ? readdirSync(hostLocalDir(network)).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f))
    : [];
}

describe('kubelet stand-in', function () {
  this.timeout(180_000);
  let c: TestCluster;
  let core: CoreV1Api;
  let fabric: Fabric;
  let kubelet: Kubelet;
  const logs: string[] = [];

  before(async () => {
    c = await testCluster();
    core = c.kubeConfig.makeApiClient(CoreV1Api);
    fabric = await createFabric({ prefix, nics: ['eth0', 'eth1', 'ens192'] });
    kubelet = await startKubelet({
      kubeConfig: c.kubeConfig,
      nodes,
      cniBinDirs: ['/usr/lib/cni'],
      clusterNetwork: {
        cniVersion: '0.4.0',
        name: clusterNet,
        plugins: [
          {
            type: 'macvlan',
            master: 'eth0',
            mode: 'bridge',
            ipam: { type: 'host-local', ranges: [[{ subnet: '10.10.0.0/24' }]] },
          },
        ],
      },
      fabric,
      log: (m) => logs.push(`${new Date().toISOString()} ${m}`),
    });
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    // The ServiceAccount admission plugin rejects pods until the namespace's default account exists.
    await eventually('the default service account', 60_000, () =>
      core.readNamespacedServiceAccount({ name: 'default', namespace }).then(
        () => true,
        () => undefined,
      ),
    );
    const nad = (name: string, config: object) =>
      c.kubeConfig.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
        group: 'k8s.cni.cncf.io',
        version: 'v1',
        plural: 'network-attachment-definitions',
        namespace,
        body: {
          apiVersion: 'k8s.cni.cncf.io/v1',
          kind: 'NetworkAttachmentDefinition',
          metadata: { name, namespace },
          spec: { config: JSON.stringify(config) },
        },
      });
    // tuning after macvlan proves prevResult chaining on the real path: it only acts on the interface it is handed.
    await nad('macvlan-ens192', {
      cniVersion: '0.4.0',
      name: ens192Net,
      plugins: [
        {
          type: 'macvlan',
          master: 'ens192',
          mode: 'bridge',
          ipam: {
            type: 'host-local',
            ranges: [[{ subnet: '10.6.0.0/16', rangeStart: '10.6.212.100', rangeEnd: '10.6.212.200' }]],
          },
        },
        { type: 'tuning', mtu: 1400 },
      ],
    });
    // A single plugin config rather than a list, as NADs often carry.
    await nad('macvlan-eth1', {
      cniVersion: '0.4.0',
      name: eth1Net,
      type: 'macvlan',
      master: 'eth1',
      mode: 'bridge',
      ipam: { type: 'host-local', ranges: [[{ subnet: '10.11.0.0/24' }]] },
    });
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') process.stdout.write(`kubelet log:\n${logs.join('\n')}\n`);
    logs.length = 0;
  });

  after(async function () {
    this.timeout(120_000);
    await kubelet?.teardown();
    await fabric?.teardown();
    // With its nodes gone the pod garbage collector removes whatever pod is left in the namespace.
    for (const name of nodes) await core?.deleteNode({ name }).catch(() => undefined);
    await core?.deleteNamespace({ name: namespace }).catch(() => undefined);
    for (const network of [clusterNet, ens192Net, eth1Net])
      rmSync(hostLocalDir(network), { recursive: true, force: true });
  });

  const pinned = {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: nodes }] }],
      },
    },
  };
  const listPods = async (selector: string) =>
    (await core.listNamespacedPod({ namespace, labelSelector: selector })).items;

  it('runs a two-NIC Deployment whose pods reach each other on both networks, and DELs them on delete', async () => {
    const apps = c.kubeConfig.makeApiClient(AppsV1Api);
    const created = Date.now();
    await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'web' },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' }, annotations: { 'k8s.v1.cni.cncf.io/networks': 'macvlan-ens192' } },
            spec: { affinity: pinned, containers: [{ name: 'web', image: 'nginx' }] },
          },
        },
      },
    });
    const pods = await eventually('two Running pods', 90_000, async () => {
      const items = await listPods('app=web');
      return items.length === 2 && items.every((p) => p.status?.phase === 'Running') ? items : undefined;
    });
    const elapsed = Date.now() - created;
    process.stdout.write(
      `      (Deployment created → 2 pods Running: ${elapsed} ms; nodes ${pods.map((p) => p.spec?.nodeName).join(', ')})\n`,
    );

    const nets: { pod: V1Pod; eth0: string; net1: string }[] = [];
    for (const pod of pods) {
      const name = pod.metadata?.name ?? '';
      const podIP = pod.status?.podIP ?? '';
      assert.ok(inSubnet(podIP, '10.10.0.0/24'), `podIP ${podIP} is in 10.10.0.0/24`);
      assert.deepEqual(
        pod.status?.podIPs?.map((x) => x.ip),
        [podIP],
      );
      assert.match(pod.status?.hostIP ?? '', /^192\.168\.250\.\d+$/);
      assert.deepEqual(
        pod.status?.conditions
          ?.filter((x) => x.status === 'True')
          .map((x) => x.type)
          .sort(),
        ['ContainersReady', 'Initialized', 'PodScheduled', 'Ready'],
      );
      assert.equal(pod.status?.containerStatuses?.[0]?.ready, true);
      assert.ok(pod.status?.containerStatuses?.[0]?.state?.running);

      const status = JSON.parse(
        pod.metadata?.annotations?.[MULTUS_ANNOTATION.networkStatus] ?? '[]',
      ) as NetworkStatus[];
      assert.deepEqual(
        status.map((s) => [s.name, s.interface, s.default]),
        [
          [clusterNet, 'eth0', true],
          [`${namespace}/macvlan-ens192`, 'net1', false],
        ],
      );
      assert.deepEqual(status[0]?.ips, [podIP]);
      const net1 = status[1]?.ips[0] ?? '';
      assert.ok(inSubnet(net1, '10.6.0.0/16'), `net1 address ${net1} is in 10.6.0.0/16`);

      const addr = await kubelet.exec(namespace, name, ['ip', '-4', '-o', 'addr', 'show', 'dev', 'net1']);
      assert.match(addr.stdout, new RegExp(`inet ${net1.replaceAll('.', '\\.')}/16 `));
      const link = await kubelet.exec(namespace, name, ['ip', '-o', 'link', 'show', 'dev', 'net1']);
      assert.match(link.stdout, / mtu 1400 /, 'tuning ran after macvlan on net1');
      nets.push({ pod, eth0: podIP, net1 });
    }

    const [a, b] = nets;
    assert.ok(a && b);
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      for (const target of [to.eth0, to.net1]) {
        const ping = await kubelet.exec(namespace, from.pod.metadata?.name ?? '', [
          'ping',
          '-c',
          '1',
          '-W',
          '2',
          target,
        ]);
        assert.equal(ping.code, 0, `${from.pod.metadata?.name} pings ${target}: ${ping.stdout}${ping.stderr}`);
      }
    }

    const netnsNames = pods.map((p) => kubelet.podNetns(namespace, p.metadata?.name ?? ''));
    assert.ok(netnsNames.every((n) => n && n.startsWith(`${prefix}-pod-`)));
    assert.deepEqual(hostLocalIPs(clusterNet).sort(), nets.map((n) => n.eth0).sort());
    assert.deepEqual(hostLocalIPs(ens192Net).sort(), nets.map((n) => n.net1).sort());

    await apps.deleteNamespacedDeployment({ namespace, name: 'web', propagationPolicy: 'Background' });
    await eventually('the pods to be gone', 90_000, async () =>
      (await listPods('app=web')).length === 0 ? true : undefined,
    );
    const left = await listNetns();
    for (const n of netnsNames) assert.ok(!left.includes(n ?? ''), `netns ${n} is removed`);
    assert.deepEqual(hostLocalIPs(clusterNet), [], 'CNI DEL released the eth0 addresses');
    assert.deepEqual(hostLocalIPs(ens192Net), [], 'CNI DEL released the net1 addresses');
  });

  it('takes eth0 from the default-network annotation, honours a named interface, and DELs a force-deleted pod', async () => {
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: {
          name: 'custom',
          labels: { app: 'custom' },
          annotations: {
            'v1.multus-cni.io/default-network': `${namespace}/macvlan-eth1`,
            'k8s.v1.cni.cncf.io/networks': '[{"name":"macvlan-ens192","interface":"ens192"}]',
          },
        },
        spec: { affinity: pinned, containers: [{ name: 'c', image: 'busybox' }] },
      },
    });
    const pod = await eventually('a Running pod', 60_000, async () =>
      (await listPods('app=custom')).find((p) => p.status?.phase === 'Running'),
    );
    assert.ok(
      inSubnet(pod.status?.podIP ?? '', '10.11.0.0/24'),
      `podIP ${pod.status?.podIP} comes from the default-network NAD`,
    );
    const status = JSON.parse(pod.metadata?.annotations?.[MULTUS_ANNOTATION.networkStatus] ?? '[]') as NetworkStatus[];
    assert.deepEqual(
      status.map((s) => [s.name, s.interface]),
      [
        [`${namespace}/macvlan-eth1`, 'eth0'],
        [`${namespace}/macvlan-ens192`, 'ens192'],
      ],
    );
    const links = await kubelet.exec(namespace, 'custom', ['ip', '-o', 'link', 'show']);
    assert.match(links.stdout, /: ens192@/);
    const netns = kubelet.podNetns(namespace, 'custom');
    assert.equal(hostLocalIPs(eth1Net).length, 1);

    // Deleted at once: the kubelet never sees a graceful deletion, only the pod disappearing.
    await core.deleteNamespacedPod({ namespace, name: 'custom', gracePeriodSeconds: 0 });
    await eventually('the namespace to be removed', 30_000, async () =>
      (await listNetns()).includes(netns ?? '') ? undefined : true,
    );
    assert.deepEqual(hostLocalIPs(eth1Net), []);
    assert.deepEqual(hostLocalIPs(ens192Net), []);
  });

  it('reports a missing NetworkAttachmentDefinition as FailedCreatePodSandBox and keeps the pod Pending', async () => {
    const missing = `missing-${run}`;
    const pod = await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'lost', labels: { app: 'lost' }, annotations: { 'k8s.v1.cni.cncf.io/networks': missing } },
        spec: { affinity: pinned, containers: [{ name: 'c', image: 'busybox' }] },
      },
    });
    const event = await eventually('a FailedCreatePodSandBox event', 60_000, async () => {
      const events = await core.listNamespacedEvent({
        namespace,
        fieldSelector: `involvedObject.uid=${pod.metadata?.uid}`,
      });
      return events.items.find((e) => e.reason === 'FailedCreatePodSandBox');
    });
    assert.equal(event.type, 'Warning');
    assert.match(
      event.message ?? '',
      new RegExp(`network-attachment-definition \\(${missing}\\) in namespace \\(${namespace}\\)`),
    );
    assert.equal(event.source?.component, 'kubelet');

    const current = await core.readNamespacedPod({ namespace, name: 'lost' });
    assert.equal(current.status?.phase, 'Pending');
    assert.equal(kubelet.podNetns(namespace, 'lost'), undefined, 'a failed sandbox leaves no namespace');
    assert.deepEqual(
      (await netnsWithPrefix(prefix)).filter((n) => n.includes('-pod-')),
      [],
    );

    await core.deleteNamespacedPod({ namespace, name: 'lost' });
    await eventually('the pod to be gone', 60_000, async () =>
      (await listPods('app=lost')).length === 0 ? true : undefined,
    );
  });

  it('teardown DELs every pod it set up and leaves no namespace or link behind', async () => {
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'last', labels: { app: 'last' } },
        spec: { affinity: pinned, containers: [{ name: 'c', image: 'busybox' }] },
      },
    });
    const pod = await eventually('a Running pod', 60_000, async () =>
      (await listPods('app=last')).find((p) => p.status?.phase === 'Running'),
    );
    assert.deepEqual(hostLocalIPs(clusterNet), [pod.status?.podIP]);

    const netns = kubelet.podNetns(namespace, 'last') ?? '';
    await kubelet.stop();
    assert.ok((await listNetns()).includes(netns), 'stop() leaves pod networks alone');
    assert.equal(
      (await kubelet.exec(namespace, 'last', ['ping', '-c', '1', '-W', '2', pod.status?.podIP ?? ''])).code,
      0,
    );

    await kubelet.teardown();
    await fabric.teardown();
    assert.deepEqual(await netnsWithPrefix(prefix), []);
    const hostLinks = await ip(['-o', 'link', 'show']);
    assert.ok(!hostLinks.includes(prefix), 'no link carries the prefix');
    assert.deepEqual(hostLocalIPs(clusterNet), [], 'teardown ran CNI DEL');
  });
});
