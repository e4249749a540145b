// Seed 004 (Macvlan with Calico as the default CNI) walked step by step in `--quickstart macvlan-overlay`:
// the coordinator Synced with the cluster's CIDRs, the document's pool and SpiderMultusConfig, its nginx
// Deployment with eth0 from the Calico stand-in and net1 from 10-6-v4, the policy rules and tables 100 and
// 101 its pod shows, the default route on net1 with `ipam.spidernet.io/default-route-nic`, and traffic.
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { kubectlOk } from './cluster/kubectl.ts';
import { table } from './harness/table.ts';
import { eventually } from './harness/wait.ts';
import { CALICO_GATEWAY } from './kubelet/calico.ts';
import { quickstart } from './sandbox/quickstarts.ts';
import { startQuickstart, type QuickstartCluster } from './sandbox/start.ts';
import { applyFixture, inPod, pings, type RunningPod, runningPods, within } from './sandbox/steps.ts';

const POD_CIDR = '10.233.64.0/18';
const SERVICE_CIDR = '10.233.0.0/18';
const POOL_RANGE = '10.6.212.100-10.6.212.200';

/** The pod's IPv4 address on an interface, without prefix length. */
async function address(c: QuickstartCluster, pod: string, ifname: string): Promise<string> {
  const out = await inPod(c, pod, ['ip', '-4', '-o', 'addr', 'show', 'dev', ifname]);
  const m = /inet (\S+)\//.exec(out);
  assert.ok(m?.[1], `pod ${pod} has no IPv4 address on ${ifname}: ${out}`);
  return m[1];
}

const lines = (out: string) =>
  out
    .split('\n')
    .map((l) => l.trim().replace(/\s+/g, ' '))
    .filter(Boolean);

describe('quick start macvlan-overlay (seed 004)', function () {
  this.timeout(300_000);
  let c: QuickstartCluster;
  const log: string[] = [];

  before(async function () {
    this.timeout(600_000);
    c = await startQuickstart(quickstart('macvlan-overlay'), (m) => log.push(m));
  });
  after(async function () {
    this.timeout(120_000);
    await c?.stop();
  });

  it('`kubectl get spidercoordinators.spiderpool.spidernet.io default -o yaml` is Synced with the pod and service CIDRs', async () => {
    const scc = await eventually('the coordinator to be Synced', 60_000, async () => {
      const out = parse(
        await kubectlOk(c.kubectl, ['get', 'spidercoordinators.spiderpool.spidernet.io', 'default', '-o', 'yaml']),
      ) as { spec: { mode: string }; status?: { phase?: string; overlayPodCIDR?: string[]; serviceCIDR?: string[] } };
      return out.status?.phase === 'Synced' ? out : undefined;
    });
    assert.equal(scc.spec.mode, 'overlay', 'helm install --set coordinator.mode=overlay');
    assert.deepEqual(scc.status?.overlayPodCIDR, [POD_CIDR]);
    assert.deepEqual(scc.status?.serviceCIDR, [SERVICE_CIDR]);
  });

  it("applies the document's SpiderIPPool and SpiderMultusConfig, whose NAD is macvlan on ens192 with spiderpool IPAM and the coordinator", async () => {
    await applyFixture(c.kubectl, 'apply', 'macvlan-overlay/10-6-v4.yaml');
    await applyFixture(c.kubectl, 'apply', 'macvlan-overlay/macvlan-ens192.yaml');
    const nad = parse(
      await kubectlOk(c.kubectl, [
        'get',
        'network-attachment-definitions.k8s.cni.cncf.io',
        'macvlan-ens192',
        '-o',
        'yaml',
      ]),
    ) as { metadata: { ownerReferences: { kind: string; name: string }[] }; spec: { config: string } };
    assert.deepEqual(
      nad.metadata.ownerReferences.map((o) => `${o.kind}/${o.name}`),
      ['SpiderMultusConfig/macvlan-ens192'],
    );
    const config = JSON.parse(nad.spec.config) as { plugins: Record<string, unknown>[] };
    assert.deepEqual(
      config.plugins.map((p) => p.type),
      ['macvlan', 'coordinator'],
    );
    assert.equal(config.plugins[0]?.master, 'ens192');
    assert.deepEqual(config.plugins[0]?.ipam, { type: 'spiderpool', default_ipv4_ippool: ['10-6-v4'] });
  });

  let pods: RunningPod[];
  it('runs the nginx Deployment: two pods with eth0 from the Calico stand-in and net1 from 10-6-v4 (`kubectl get se`)', async () => {
    await applyFixture(c.kubectl, 'create', 'macvlan-overlay/nginx-deployment.yaml');
    pods = await runningPods(c.kubectl, 'app=nginx', 2);
    assert.deepEqual(pods.map((p) => p.node).sort(), [...c.quickstart.nodes].sort(), 'one pod on each node');
    for (const p of pods) assert.ok(within(p.podIP, POD_CIDR), `pod IP ${p.podIP} (eth0) from the pod CIDR`);
    const se = table(await kubectlOk(c.kubectl, ['get', 'se']));
    assert.deepEqual(se.header, ['NAME', 'INTERFACE', 'IPV4POOL', 'IPV4', 'IPV6POOL', 'IPV6', 'NODE']);
    assert.equal(se.rows.length, 2);
    for (const p of pods) {
      const row = se.rows.find((r) => r[0] === p.name);
      assert.ok(row, `kubectl get se lists ${p.name}`);
      const [, nic, pool, ipv4, , , node] = row;
      assert.equal(nic, 'net1');
      assert.equal(pool, '10-6-v4');
      assert.match(ipv4 ?? '', /\/16$/);
      assert.ok(within(ipv4 ?? '', POOL_RANGE), `${ipv4} in 10-6-v4`);
      assert.equal(node, p.node);
      assert.equal(`${await address(c, p.name, 'net1')}/16`, ipv4);
    }
  });

  it("shows the document's `ip rule`, `ip route` and tables 101 and 100 inside the pod", async () => {
    for (const p of pods) {
      const eth0 = await address(c, p.name, 'eth0');
      const net1 = await address(c, p.name, 'net1');
      const rules = lines(await inPod(c, p.name, ['ip', 'rule']));
      for (const rule of [`from ${net1} lookup 101`, `from ${eth0} lookup 100`])
        assert.ok(
          rules.some((r) => r.endsWith(rule)),
          `${rule}: ${rules.join('\n')}`,
        );
      const main = lines(await inPod(c, p.name, ['ip', 'route']));
      assert.ok(main.includes(`default via ${CALICO_GATEWAY} dev eth0`), main.join('\n'));
      assert.ok(
        main.some((r) => r.startsWith(`${CALICO_GATEWAY} dev eth0 scope link`)),
        main.join('\n'),
      );
      assert.ok(
        main.some((r) => r.startsWith(`${p.hostIP} dev eth0 scope link`)),
        `the node ${p.hostIP}: ${main.join('\n')}`,
      );
      for (const cidr of [SERVICE_CIDR, POD_CIDR])
        assert.ok(
          main.some((r) => r.startsWith(`${cidr} via `) && r.includes(' dev eth0')),
          main.join('\n'),
        );
      const t101 = lines(await inPod(c, p.name, ['ip', 'route', 'show', 'table', '101']));
      assert.ok(t101.includes('default via 10.6.0.1 dev net1'), t101.join('\n'));
      assert.ok(
        t101.some((r) => r.startsWith('10.6.0.0/16 dev net1') && r.endsWith(`src ${net1}`)),
        t101.join('\n'),
      );
      const t100 = lines(await inPod(c, p.name, ['ip', 'route', 'show', 'table', '100']));
      assert.ok(t100.includes(`default via ${CALICO_GATEWAY} dev eth0`), t100.join('\n'));
    }
  });

  it('pods reach each other and the nodes through eth0, and each other and the gateway 10.6.0.1 from net1', async () => {
    const [a, b] = pods as [RunningPod, RunningPod];
    assert.ok(await pings(c, a.name, b.podIP), `${a.name} -> ${b.podIP} (eth0, across nodes)`);
    assert.ok(await pings(c, b.name, a.podIP), `${b.name} -> ${a.podIP}`);
    for (const p of pods)
      for (const other of pods) assert.ok(await pings(c, p.name, other.hostIP), `${p.name} -> node ${other.hostIP}`);
    const aNet1 = await address(c, a.name, 'net1');
    const bNet1 = await address(c, b.name, 'net1');
    assert.ok(await pings(c, a.name, bNet1, aNet1), `${a.name} net1 -> ${bNet1}`);
    assert.ok(await pings(c, a.name, '10.6.0.1', aNet1), `${a.name} net1 -> its gateway`);
  });

  it('with `ipam.spidernet.io/default-route-nic: net1` the default route is on net1 and eth0 answers from table 101', async () => {
    const pod = `
apiVersion: v1
kind: Pod
metadata:
  name: nginx-net1-default
  labels: {app: nginx-net1-default}
  annotations:
    k8s.v1.cni.cncf.io/networks: macvlan-ens192
    ipam.spidernet.io/default-route-nic: net1
spec:
  containers:
  - name: nginx
    image: nginx
`;
    await kubectlOk(c.kubectl, ['create', '-f', '-'], { stdin: pod });
    const [p] = (await runningPods(c.kubectl, 'app=nginx-net1-default', 1)) as [RunningPod];
    const eth0 = await address(c, p.name, 'eth0');
    const main = lines(await inPod(c, p.name, ['ip', 'route']));
    assert.ok(main.includes('default via 10.6.0.1 dev net1'), main.join('\n'));
    assert.ok(!main.some((r) => r.startsWith('default') && r.includes('dev eth0')), main.join('\n'));
    const rules = lines(await inPod(c, p.name, ['ip', 'rule']));
    assert.ok(
      rules.some((r) => r.endsWith(`from ${eth0} lookup 101`)),
      rules.join('\n'),
    );
    const t101 = lines(await inPod(c, p.name, ['ip', 'route', 'show', 'table', '101']));
    assert.ok(t101.includes(`default via ${CALICO_GATEWAY} dev eth0`), t101.join('\n'));
    assert.ok(await pings(c, p.name, pods[0]?.podIP ?? '', eth0), 'eth0 reaches the other pods through table 101');
    for (const cidr of [SERVICE_CIDR, POD_CIDR])
      assert.ok(
        main.some((r) => r.startsWith(`${cidr} `) && r.includes('dev eth0')),
        `cluster traffic stays on eth0 whatever its source: ${main.join('\n')}`,
      );
    assert.ok(await pings(c, p.name, pods[0]?.podIP ?? ''), 'the other pods are reached without choosing a source');
  });

  it('deleting the Deployment and the pod frees every address of 10-6-v4', async () => {
    await kubectlOk(c.kubectl, ['delete', 'deployment/nginx', 'pod/nginx-net1-default', '--wait=false']);
    await eventually('10-6-v4 to be empty and no SpiderEndpoint left', 120_000, async () => {
      const count = await kubectlOk(c.kubectl, ['get', 'sp', '10-6-v4', '-o', 'jsonpath={.status.allocatedIPCount}']);
      const se = await kubectlOk(c.kubectl, ['get', 'se', '-o', 'name']);
      return (count === '0' || count === '') && !se.trim() ? true : undefined;
    });
  });
});
