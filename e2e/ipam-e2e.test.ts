// The quick-start flows end to end: the real controller-manager and scheduler create and place pods, the
// kubelet stand-in runs macvlan with the real `spiderpool` plugin in network namespaces, and the agents
// allocate from the pools in the fixtures.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { IPSet, parseIP } from '../lib/ip/index.ts';
import { parseRecords } from '../ipam/records.ts';
import { repoRoot } from './cluster/install.ts';
import { kubectlOk } from './cluster/kubectl.ts';
import { testCluster, type TestCluster } from './harness/cluster.ts';
import { table } from './harness/table.ts';
import { eventually } from './harness/wait.ts';
import { startNodeSide, type NodeSide } from './harness/nodes.ts';
import { SpiderpoolClient } from '../lib/spiderpool-client.ts';

const NS = 'ipam-e2e';
const NODES = ['worker1', 'worker2'];
const fixture = (path: string) => join(repoRoot, 'e2e', 'fixtures', path);

describe('IPAM end to end with the kubelet stand-in', function () {
  this.timeout(300_000);
  let c: TestCluster;
  let nodes: NodeSide;
  let core: CoreV1Api;

  let spiderpool: SpiderpoolClient;
  const pool = (name: string) => spiderpool.read(name);
  const runningPods = (selector: string, count: number) =>
    eventually(`${count} running pods ${selector}`, 90_000, async () => {
      const pods = (await core.listNamespacedPod({ namespace: NS, labelSelector: selector })).items.filter(
        (p) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp,
      );
      return pods.length === count ? pods : undefined;
    });
  const ipOf = (pod: V1Pod) => pod.status?.podIP as string;

  before(async () => {
    c = await testCluster();
    core = c.kubeConfig.makeApiClient(CoreV1Api);
    spiderpool = new SpiderpoolClient(c.kubeConfig);
    await kubectlOk(c.kubectl, ['create', 'namespace', NS]);
    await kubectlOk(c.kubectl, ['apply', '-f', fixture('calico-quickstart/nginx-ippool-v4.yaml')]);
    await kubectlOk(c.kubectl, ['apply', '-f', fixture('macvlan-overlay/10-6-v4.yaml')]);
    nodes = await startNodeSide({ kubeConfig: c.kubeConfig, kubeconfigPath: c.cp.kubeconfig, nodes: NODES });
  });

  after(async () => {
    await c?.kubectl(['delete', 'namespace', NS, '--wait=false']);
    await nodes?.stop();
  });

  it('the quick-start nginx Deployment gets addresses from nginx-ippool-v4, scales to 3, pods ping each other, and deleting returns the count to 0', async () => {
    await kubectlOk(c.kubectl, ['apply', '-n', NS, '-f', fixture('calico-quickstart/nginx-deployment.yaml')]);
    let pods = await runningPods('app=nginx', 2);
    const range = IPSet.fromRanges(['10.244.100.0-10.244.200.1']);
    for (const p of pods) assert.ok(range.contains(parseIP(ipOf(p)).value), `${ipOf(p)} is in nginx-ippool-v4`);

    await kubectlOk(c.kubectl, ['scale', '-n', NS, 'deployment', 'nginx', '--replicas', '3']);
    pods = await runningPods('app=nginx', 3);
    assert.equal(new Set(pods.map(ipOf)).size, 3);
    const sp = table(await kubectlOk(c.kubectl, ['get', 'sp', 'nginx-ippool-v4']));
    assert.equal(sp.rows[0]?.[sp.header.indexOf('ALLOCATED-IP-COUNT')], '3');

    for (const from of pods) {
      for (const to of pods.filter((p) => p !== from)) {
        const ping = await nodes.kubelet.exec(NS, from.metadata!.name!, ['ping', '-c', '1', '-W', '2', ipOf(to)]);
        assert.equal(ping.code, 0, `${from.metadata?.name} pings ${ipOf(to)}: ${ping.stdout}${ping.stderr}`);
      }
    }

    const se = await kubectlOk(c.kubectl, ['get', 'se', '-n', NS, pods[0]!.metadata!.name!, '--no-headers']);
    assert.match(
      se,
      new RegExp(`eth0\\s+nginx-ippool-v4\\s+${ipOf(pods[0]!).replaceAll('.', '\\.')}/16\\s+.*(worker1|worker2)`),
    );

    await kubectlOk(c.kubectl, ['delete', '-n', NS, 'deployment', 'nginx']);
    await eventually('nginx-ippool-v4 back to 0', 90_000, async () =>
      (await pool('nginx-ippool-v4')).status?.allocatedIPCount === 0 ? true : undefined,
    );
    assert.equal(parseRecords(await pool('nginx-ippool-v4')).size, 0);
  });

  it('a pod using the macvlan-ens192 NetworkAttachmentDefinition gets net1 from 10-6-v4, shown by kubectl get se', async () => {
    // eth0 of this pod stands for the overlay CNI of the quick start (Calico there): host-local, not spiderpool.
    await kubectlOk(c.kubectl, ['apply', '-f', '-'], {
      stdin: JSON.stringify({
        apiVersion: 'k8s.cni.cncf.io/v1',
        kind: 'NetworkAttachmentDefinition',
        metadata: { name: 'overlay', namespace: NS },
        spec: {
          config: JSON.stringify({
            cniVersion: '0.4.0',
            name: 'overlay',
            plugins: [
              {
                type: 'macvlan',
                master: 'eth1',
                mode: 'bridge',
                ipam: {
                  type: 'host-local',
                  ranges: [[{ subnet: '10.233.64.0/18' }]],
                  dataDir: '/run/spiderpool-ts-e2e/host-local',
                },
              },
            ],
          }),
        },
      }),
    });
    // The NetworkAttachmentDefinition that SpiderMultusConfig macvlan-ens192 yields (the seed's shape).
    await kubectlOk(c.kubectl, ['apply', '-f', '-'], {
      stdin: JSON.stringify({
        apiVersion: 'k8s.cni.cncf.io/v1',
        kind: 'NetworkAttachmentDefinition',
        metadata: { name: 'macvlan-ens192', namespace: NS },
        spec: {
          config: JSON.stringify({
            cniVersion: '0.3.1',
            name: 'macvlan-ens192',
            plugins: [
              {
                type: 'macvlan',
                ipam: { type: 'spiderpool', default_ipv4_ippool: ['10-6-v4'] },
                master: 'ens192',
                mode: 'bridge',
              },
            ],
          }),
        },
      }),
    });
    await core.createNamespacedPod({
      namespace: NS,
      body: {
        metadata: {
          name: 'multi',
          labels: { app: 'multi' },
          annotations: {
            'v1.multus-cni.io/default-network': `${NS}/overlay`,
            'k8s.v1.cni.cncf.io/networks': 'macvlan-ens192',
          },
        },
        spec: { containers: [{ name: 'nginx', image: 'nginx' }] },
      },
    });
    await runningPods('app=multi', 1);
    const out = await kubectlOk(c.kubectl, ['get', 'se', '-n', NS, 'multi']);
    const [header = '', row = ''] = out.trim().split('\n');
    assert.deepEqual(header.split(/\s+/), ['NAME', 'INTERFACE', 'IPV4POOL', 'IPV4', 'IPV6POOL', 'IPV6', 'NODE']);
    assert.match(row, /^multi\s+net1\s+10-6-v4\s+10\.6\.212\.\d+\/16\s+(worker1|worker2)$/);
    const addr = await nodes.kubelet.exec(NS, 'multi', ['ip', '-4', '-o', 'addr', 'show', 'net1']);
    assert.match(addr.stdout, /inet 10\.6\.212\.\d+\/16/);
    const route = await nodes.kubelet.exec(NS, 'multi', ['ip', 'route', 'show', 'default']);
    assert.match(route.stdout, /default via 10\.6\.0\.1 dev net1/);

    await core.deleteNamespacedPod({ namespace: NS, name: 'multi' });
    await eventually('10-6-v4 back to 0', 90_000, async () =>
      (await pool('10-6-v4')).status?.allocatedIPCount === 0 ? true : undefined,
    );
  });

  it('a StatefulSet pod recreated by the controller-manager keeps its IP; scaled down, its IP is released', async () => {
    await kubectlOk(c.kubectl, ['apply', '-n', NS, '-f', '-'], {
      stdin: JSON.stringify({
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        metadata: { name: 'web' },
        spec: {
          serviceName: 'web',
          replicas: 2,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: {
              labels: { app: 'web' },
              annotations: { 'ipam.spidernet.io/ippool': '{"ipv4":["nginx-ippool-v4"]}' },
            },
            spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'nginx', image: 'nginx' }] },
          },
        },
      }),
    });
    const pods = await runningPods('app=web', 2);
    const web0 = pods.find((p) => p.metadata?.name === 'web-0')!;
    const web1 = pods.find((p) => p.metadata?.name === 'web-1')!;

    await core.deleteNamespacedPod({ namespace: NS, name: 'web-0' });
    const reborn = await eventually('web-0 recreated and running', 90_000, async () => {
      // Between the delete and the controller's re-create, web-0 does not exist.
      const p = await core.readNamespacedPod({ namespace: NS, name: 'web-0' }).catch(() => undefined);
      return p && p.metadata?.uid !== web0.metadata?.uid && p.status?.phase === 'Running' ? p : undefined;
    });
    assert.equal(ipOf(reborn), ipOf(web0), 'the recreated pod has the same address');
    const record = parseRecords(await pool('nginx-ippool-v4')).get(ipOf(web0));
    assert.equal(record?.podUid, reborn.metadata?.uid, 'the pool record follows the new pod UID');

    await kubectlOk(c.kubectl, ['scale', '-n', NS, 'statefulset', 'web', '--replicas', '1']);
    await eventually('web-1 address released', 90_000, async () =>
      parseRecords(await pool('nginx-ippool-v4')).has(ipOf(web1)) ? undefined : true,
    );
    await eventually('web-1 endpoint removed', 90_000, async () =>
      (await c.kubectl(['get', 'se', '-n', NS, 'web-1'])).code !== 0 ? true : undefined,
    );
    assert.ok(parseRecords(await pool('nginx-ippool-v4')).has(ipOf(web0)), 'web-0 keeps its address');
  });
});
