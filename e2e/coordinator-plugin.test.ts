// The `coordinator` meta plugin end to end: the NAD the operator generates from the seed SpiderMultusConfig
// macvlan-ens192 (macvlan + spiderpool IPAM + coordinator), a pod attaching it as net1 on the kubelet
// stand-in, the agent serving the SpiderCoordinator's values, and the pod's routes tuned for two NICs.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { parse } from 'yaml';
import type { SpiderMultusConfig } from '../api/v2beta1/types.ts';
import { GROUP, VERSION } from '../api/v2beta1/constants.ts';
import { isNotFound } from '../lib/kube.ts';
import { desiredNad } from '../operator/multusconfig/nad.ts';
import { repoRoot } from './cluster/install.ts';
import { kubectlOk } from './cluster/kubectl.ts';
import { testCluster, type TestCluster } from './harness/cluster.ts';
import { startNodeSide, type NodeSide } from './harness/nodes.ts';
import { eventually } from './harness/wait.ts';

const NS = 'coordinator-plugin-e2e';
const fixture = (path: string) => join(repoRoot, 'e2e', 'fixtures', path);
const ETH0_POOL = 'coordinator-plugin-eth0';
const scc = { group: GROUP, version: VERSION, plural: 'spidercoordinators' };

describe('coordinator plugin with the kubelet stand-in', function () {
  this.timeout(120_000);
  let c: TestCluster;
  let nodes: NodeSide;
  let core: CoreV1Api;
  let custom: CustomObjectsApi;

  before(async () => {
    c = await testCluster();
    core = c.kubeConfig.makeApiClient(CoreV1Api);
    custom = c.kubeConfig.makeApiClient(CustomObjectsApi);
    await kubectlOk(c.kubectl, ['create', 'namespace', NS]);
    // eth0 stands for the overlay CNI's interface, which holds the pod's default route.
    await kubectlOk(c.kubectl, ['apply', '-f', '-'], {
      stdin: JSON.stringify({
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'SpiderIPPool',
        metadata: { name: ETH0_POOL },
        spec: { subnet: '10.251.0.0/16', gateway: '10.251.0.1', ips: ['10.251.1.10-10.251.1.20'] },
      }),
    });
    await kubectlOk(c.kubectl, ['apply', '-f', fixture('macvlan-overlay/10-6-v4.yaml')]);
    await custom.createClusterCustomObject({
      ...scc,
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'SpiderCoordinator',
        metadata: { name: 'default' },
        spec: { podCIDRType: 'cluster', hijackCIDR: ['169.254.0.0/16'] },
      },
    });
    await custom.patchClusterCustomObjectStatus({
      ...scc,
      name: 'default',
      body: [
        {
          op: 'add',
          path: '/status',
          value: { phase: 'Synced', overlayPodCIDR: ['10.244.64.0/18'], serviceCIDR: ['10.233.0.0/18'] },
        },
      ],
    });
    const smc = parse(readFileSync(fixture('macvlan-overlay/macvlan-ens192.yaml'), 'utf8')) as SpiderMultusConfig;
    const nad = desiredNad({ ...smc, metadata: { ...smc.metadata, namespace: NS, uid: 'seed' } });
    await kubectlOk(c.kubectl, ['apply', '-f', '-'], {
      stdin: JSON.stringify({ ...nad, metadata: { ...nad.metadata, ownerReferences: undefined } }),
    });
    nodes = await startNodeSide({ kubeConfig: c.kubeConfig, kubeconfigPath: c.cp.kubeconfig, nodes: ['worker1'] });
  });

  after(async () => {
    await c?.kubectl(['delete', 'namespace', NS, '--wait=false']);
    await nodes?.stop();
    await c?.kubectl(['delete', 'sp', ETH0_POOL, '--wait=false']);
    await custom?.deleteClusterCustomObject({ ...scc, name: 'default' }).catch((e: unknown) => {
      if (!isNotFound(e)) throw e;
    });
  });

  it('a pod with net1 from macvlan-ens192 gets its routes tuned: net1 in table 101, hijack routes via the node IP', async () => {
    const nadConfig = JSON.parse(
      await kubectlOk(c.kubectl, [
        'get',
        'net-attach-def',
        '-n',
        NS,
        'macvlan-ens192',
        '-o',
        'jsonpath={.spec.config}',
      ]),
    ) as { plugins: { type: string }[] };
    assert.deepEqual(
      nadConfig.plugins.map((p) => p.type),
      ['macvlan', 'coordinator'],
    );

    await core.createNamespacedPod({
      namespace: NS,
      body: {
        metadata: {
          name: 'multi',
          annotations: {
            'k8s.v1.cni.cncf.io/networks': 'macvlan-ens192',
            'ipam.spidernet.io/ippools': `[{"interface":"eth0","ipv4":["${ETH0_POOL}"]},{"interface":"net1","ipv4":["10-6-v4"]}]`,
          },
        },
        spec: { containers: [{ name: 'nginx', image: 'nginx' }] },
      },
    });
    const pod = await eventually('pod multi running', 60_000, async () => {
      const p = await core.readNamespacedPod({ namespace: NS, name: 'multi' });
      return p.status?.phase === 'Running' ? p : undefined;
    });
    const nodeIP = pod.status?.hostIP as string;
    const addr = await nodes.kubelet.exec(NS, 'multi', ['ip', '-4', '-o', 'addr', 'show', 'net1']);
    const net1 = /inet (10\.6\.212\.\d+)\/16/.exec(addr.stdout)?.[1];
    assert.ok(net1, `net1 has an address from 10-6-v4: ${addr.stdout}`);

    const show = async (...args: string[]) => (await nodes.kubelet.exec(NS, 'multi', ['ip', ...args])).stdout;
    assert.match(await show('rule', 'show'), new RegExp(`from ${net1.replaceAll('.', '\\.')} lookup 101`));
    const t101 = await show('route', 'show', 'table', '101');
    assert.match(t101, /^10\.6\.0\.0\/16 dev net1 .*scope link/m, `net1's connected route is in table 101:\n${t101}`);
    const main = await show('route', 'show', 'table', 'main');
    assert.doesNotMatch(main, /dev net1/, `main keeps no net1 route:\n${main}`);
    // Overlay mode (eth0 belongs to the cluster network): the Kubernetes CIDRs go via the node over eth0.
    for (const cidr of ['10.233.0.0/18', '10.244.64.0/18', '169.254.0.0/16']) {
      assert.match(
        main,
        new RegExp(`^${cidr} via ${nodeIP.replaceAll('.', '\\.')} dev eth0`, 'm'),
        `hijack route ${cidr}:\n${main}`,
      );
    }
    assert.match(main, new RegExp(`^${nodeIP.replaceAll('.', '\\.')} dev eth0 scope link`, 'm'));

    await core.deleteNamespacedPod({ namespace: NS, name: 'multi' });
    await eventually(
      'pod multi gone',
      60_000,
      async () =>
        await core.readNamespacedPod({ namespace: NS, name: 'multi' }).then(
          () => undefined,
          (e: unknown) => (isNotFound(e) ? true : undefined),
        ),
    );
  });
});
