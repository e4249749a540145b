// Route tuning in real pod namespaces through the real agents and the kubelet stand-in: eth0 stands for the overlay
// CNI's interface (macvlan from the cluster network, dual stack, no coordinator), net1 is a macvlan NAD chained with
// the coordinator. Table 100 for eth0's replies, net1 in table 101, the routes annotation, the default route moved
// by ipam.spidernet.io/default-route-nic, and two dual-stack pods talking over IPv6.
import assert from 'node:assert/strict';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { GROUP, VERSION } from '../api/v2beta1/constants.ts';
import { buildProbeTools } from '../cni/tools/build.ts';
import { isNotFound } from '../lib/kube.ts';
import { kubectlOk } from './cluster/kubectl.ts';
import { testCluster, type TestCluster } from './harness/cluster.ts';
import { startNodeSide, type NodeSide } from './harness/nodes.ts';
import { eventually } from './harness/wait.ts';

const NS = 'dataplane-routing-e2e';
const NAD = 'dataplane-net1';
const POOLS = {
  'dataplane-eth0-v4': { subnet: '10.252.0.0/16', gateway: '10.252.0.1', ips: ['10.252.1.10-10.252.1.20'] },
  'dataplane-eth0-v6': { subnet: 'fd00:252::/64', gateway: 'fd00:252::1', ips: ['fd00:252::10-fd00:252::20'] },
  'dataplane-net1-v4': { subnet: '10.6.0.0/16', gateway: '10.6.0.1', ips: ['10.6.213.10-10.6.213.20'] },
};
const ANNOTATIONS = {
  'k8s.v1.cni.cncf.io/networks': NAD,
  'ipam.spidernet.io/ippools': JSON.stringify([
    { interface: 'eth0', ipv4: ['dataplane-eth0-v4'], ipv6: ['dataplane-eth0-v6'] },
    { interface: 'net1', ipv4: ['dataplane-net1-v4'] },
  ]),
  'ipam.spidernet.io/routes': JSON.stringify([{ dst: '172.30.0.0/16', gw: '10.6.0.1' }]),
};

const SCC = { group: GROUP, version: VERSION, plural: 'spidercoordinators' };
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('data plane: route tuning, table 100, default-route-nic and IPv6', function () {
  this.timeout(240_000);
  let c: TestCluster;
  let nodes: NodeSide;
  let core: CoreV1Api;
  let custom: CustomObjectsApi;

  const start = async (name: string, extra: Record<string, string> = {}) => {
    await core.createNamespacedPod({
      namespace: NS,
      body: {
        metadata: { name, annotations: { ...ANNOTATIONS, ...extra } },
        spec: { nodeName: 'worker1', containers: [{ name: 'c', image: 'busybox' }] },
      },
    });
    await eventually(`pod ${name} running`, 90_000, async () => {
      const p = await core.readNamespacedPod({ namespace: NS, name });
      return p.status?.phase === 'Running' ? p : undefined;
    });
  };
  const sh = async (pod: string, ...argv: string[]) => (await nodes.kubelet.exec(NS, pod, argv)).stdout;
  const address = async (pod: string, nic: string, family: 4 | 6) => {
    const rows = JSON.parse(await sh(pod, 'ip', `-${family}`, '-j', 'addr', 'show', 'dev', nic)) as {
      addr_info: { local: string; scope: string }[];
    }[];
    const a = rows[0]?.addr_info.find((x) => x.scope === 'global')?.local;
    assert.ok(a, `${pod} has an IPv${family} address on ${nic}`);
    return a;
  };

  before(async () => {
    buildProbeTools();
    c = await testCluster();
    core = c.kubeConfig.makeApiClient(CoreV1Api);
    custom = c.kubeConfig.makeApiClient(CustomObjectsApi);
    await kubectlOk(c.kubectl, ['create', 'namespace', NS]);
    for (const [name, spec] of Object.entries(POOLS))
      await kubectlOk(c.kubectl, ['apply', '-f', '-'], {
        stdin: JSON.stringify({ apiVersion: `${GROUP}/${VERSION}`, kind: 'SpiderIPPool', metadata: { name }, spec }),
      });
    await kubectlOk(c.kubectl, ['apply', '-f', '-'], {
      stdin: JSON.stringify({
        apiVersion: 'k8s.cni.cncf.io/v1',
        kind: 'NetworkAttachmentDefinition',
        metadata: { name: NAD, namespace: NS },
        spec: {
          config: JSON.stringify({
            cniVersion: '0.4.0',
            name: NAD,
            plugins: [
              { type: 'macvlan', master: 'ens192', mode: 'bridge', ipam: { type: 'spiderpool' } },
              { type: 'coordinator', tunePodRoutes: true },
            ],
          }),
        },
      }),
    });
    // The install's SpiderCoordinator, Synced as the controller leaves it; the agent serves the pod's
    // default-route-nic annotation through it.
    await custom.createClusterCustomObject({
      ...SCC,
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'SpiderCoordinator',
        metadata: { name: 'default' },
        spec: { podCIDRType: 'cluster' },
      },
    });
    await custom.patchClusterCustomObjectStatus({
      ...SCC,
      name: 'default',
      body: [
        {
          op: 'add',
          path: '/status',
          value: { phase: 'Synced', overlayPodCIDR: ['10.244.64.0/18'], serviceCIDR: ['10.233.0.0/18'] },
        },
      ],
    });
    nodes = await startNodeSide({ kubeConfig: c.kubeConfig, kubeconfigPath: c.cp.kubeconfig, nodes: ['worker1'] });
  });

  after(async () => {
    await c?.kubectl(['delete', 'namespace', NS, '--wait=false']);
    await nodes?.stop();
    for (const name of Object.keys(POOLS)) await c?.kubectl(['delete', 'sp', name, '--wait=false']);
    await custom?.deleteClusterCustomObject({ ...SCC, name: 'default' }).catch((e: unknown) => {
      if (!isNotFound(e)) throw e;
    });
  });

  it('overlay eth0 + net1: eth0 replies through table 100, net1 and its annotated route in table 101', async () => {
    await start('tuned');
    const [eth0v4, eth0v6, net1] = [
      await address('tuned', 'eth0', 4),
      await address('tuned', 'eth0', 6),
      await address('tuned', 'net1', 4),
    ];
    assert.match(eth0v6, /^fd00:252::/, 'eth0 is dual stack');
    const rules = await sh('tuned', 'ip', 'rule', 'show');
    assert.match(rules, new RegExp(`from ${esc(eth0v4)} lookup 100`), rules);
    assert.match(rules, new RegExp(`from ${esc(net1)} lookup 101`), rules);
    assert.match(await sh('tuned', 'ip', '-6', 'rule', 'show'), new RegExp(`from ${esc(eth0v6)} lookup 100`));
    assert.match(await sh('tuned', 'ip', 'route', 'show', 'table', '100'), /^default via 10\.252\.0\.1 dev eth0/m);
    assert.match(await sh('tuned', 'ip', '-6', 'route', 'show', 'table', '100'), /^default via fd00:252::1 dev eth0/m);
    const t101 = await sh('tuned', 'ip', 'route', 'show', 'table', '101');
    assert.match(t101, /^default via 10\.6\.0\.1 dev net1/m, t101);
    assert.match(t101, /^10\.6\.0\.0\/16 dev net1/m, t101);
    assert.match(t101, /^172\.30\.0\.0\/16 via 10\.6\.0\.1 dev net1/m, `the routes annotation's route:\n${t101}`);
    const main = await sh('tuned', 'ip', 'route', 'show', 'table', 'main');
    assert.match(main, /^default via 10\.252\.0\.1 dev eth0/m);
    assert.doesNotMatch(main, /dev net1/, main);
  });

  it('default-route-nic net1: the default route moves to net1, eth0 goes to table 101', async () => {
    await start('renic', { 'ipam.spidernet.io/default-route-nic': 'net1' });
    const eth0v4 = await address('renic', 'eth0', 4);
    const eth0v6 = await address('renic', 'eth0', 6);
    const main = await sh('renic', 'ip', 'route', 'show', 'table', 'main');
    assert.match(main, /^default via 10\.6\.0\.1 dev net1/m, main);
    assert.doesNotMatch(main, /^default .*dev eth0/m, main);
    assert.doesNotMatch(await sh('renic', 'ip', '-6', 'route', 'show', 'table', 'main'), /^default .*dev eth0/m);
    // Only the default leaves eth0: the cluster and eth0's own subnet stay reachable from any source address.
    assert.match(main, /^10\.233\.0\.0\/18 via \S+ dev eth0/m, main);
    assert.match(main, /^10\.252\.0\.0\/16 dev eth0/m, main);
    assert.match(await sh('renic', 'ip', 'rule', 'show'), new RegExp(`from ${esc(eth0v4)} lookup 101`));
    assert.match(await sh('renic', 'ip', '-6', 'rule', 'show'), new RegExp(`from ${esc(eth0v6)} lookup 101`));
    assert.match(await sh('renic', 'ip', 'route', 'show', 'table', '101'), /^default via 10\.252\.0\.1 dev eth0/m);
    assert.match(await sh('renic', 'ip', '-6', 'route', 'show', 'table', '101'), /^default via fd00:252::1 dev eth0/m);
  });

  it('a dual-stack pod pings another over IPv6', async () => {
    const target = await address('renic', 'eth0', 6);
    const r = await nodes.kubelet.exec(NS, 'tuned', ['ping', '-6', '-c', '2', '-W', '2', target]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const back = await nodes.kubelet.exec(NS, 'renic', [
      'ping',
      '-6',
      '-c',
      '2',
      '-W',
      '2',
      await address('tuned', 'eth0', 6),
    ]);
    assert.equal(back.code, 0, back.stdout + back.stderr);
  });
});
