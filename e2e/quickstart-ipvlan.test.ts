// Seed 003 (Spiderpool v0.6.0 on public clouds) walked step by step in `--quickstart public-cloud-ipvlan`:
// nodes `master` and `worker`, Multus's default network the ipvlan SpiderMultusConfig ipvlan-eth0, the
// node-bound default pools, the document's DaemonSets and Service, and the pings it shows. Where the kernel
// has no ipvlan, each pod's events say that its link is macvlan instead.
import assert from 'node:assert/strict';
import { kubectlOk } from './cluster/kubectl.ts';
import { table } from './harness/table.ts';
import { eventually } from './harness/wait.ts';
import { kernelHasIpvlan, LINK_SUBSTITUTED_REASON } from './kubelet/substitute.ts';
import { quickstart } from './sandbox/quickstarts.ts';
import { startQuickstart, type QuickstartCluster } from './sandbox/start.ts';
import { applyFixture, pings, type RunningPod, runningPods, within } from './sandbox/steps.ts';

const SERVICE_CIDR = '10.233.0.0/18';

describe('quick start public-cloud-ipvlan (seed 003)', function () {
  this.timeout(300_000);
  let c: QuickstartCluster;
  const log: string[] = [];

  before(async function () {
    this.timeout(600_000);
    c = await startQuickstart(quickstart('public-cloud-ipvlan'), (m) => log.push(m));
  });
  after(async function () {
    this.timeout(120_000);
    await c?.stop();
  });

  it('applies the two ipvlan SpiderMultusConfigs, and both NADs are listed in kube-system', async () => {
    await applyFixture(c.kubectl, 'apply', 'public-cloud-ipvlan/ipvlan-multusconfigs.yaml');
    const smc = table(
      await kubectlOk(c.kubectl, ['get', 'spidermultusconfigs.spiderpool.spidernet.io', '-n', 'kube-system']),
    );
    assert.deepEqual(
      smc.rows.map((r) => r[0]),
      ['ipvlan-eth0', 'ipvlan-eth1'],
    );
    const nads = table(
      await kubectlOk(c.kubectl, ['get', 'network-attachment-definitions.k8s.cni.cncf.io', '-n', 'kube-system']),
    );
    assert.deepEqual(
      nads.rows.map((r) => r[0]),
      ['ipvlan-eth0', 'ipvlan-eth1'],
    );
  });

  it('applies the four node-bound pools and lists the nodes with the addresses the document shows', async () => {
    await applyFixture(c.kubectl, 'apply', 'public-cloud-ipvlan/ippools.yaml');
    const nodes = table(await kubectlOk(c.kubectl, ['get', 'nodes', '-o', 'wide']));
    const ip = nodes.header.indexOf('INTERNAL-IP');
    assert.deepEqual(
      nodes.rows.map((r) => `${r[0]} ${r[1]} ${r[ip]}`),
      ['master Ready 172.31.199.183', 'worker Ready 172.31.199.184'],
    );
  });

  let app1: RunningPod[];
  let app2: RunningPod[];
  it('creates the DaemonSets and the Service: eth0 comes from each node’s own default pool of the annotated network', async () => {
    await applyFixture(c.kubectl, 'create', 'public-cloud-ipvlan/apps.yaml');
    app1 = await runningPods(c.kubectl, 'app=test-app-1', 2);
    app2 = await runningPods(c.kubectl, 'app=test-app-2', 2);
    const pools = table(await kubectlOk(c.kubectl, ['get', 'spiderippool']));
    assert.deepEqual(pools.header, ['NAME', 'VERSION', 'SUBNET', 'ALLOCATED-IP-COUNT', 'TOTAL-IP-COUNT', 'DEFAULT']);
    assert.deepEqual(pools.rows, [
      ['master-172', '4', '172.31.192.0/20', '1', '5', 'true'],
      ['master-192', '4', '192.168.0.0/24', '1', '5', 'true'],
      ['worker-172', '4', '172.31.192.0/20', '1', '5', 'true'],
      ['worker-192', '4', '192.168.0.0/24', '1', '5', 'true'],
    ]);
    const se = table(await kubectlOk(c.kubectl, ['get', 'se']));
    for (const [pods, suffix] of [
      [app1, '172'],
      [app2, '192'],
    ] as const) {
      for (const p of pods) {
        const row = se.rows.find((r) => r[0] === p.name);
        assert.deepEqual(row?.slice(1, 3), ['eth0', `${p.node}-${suffix}`], `${p.name} on ${p.node}`);
      }
    }
    const svc = table(await kubectlOk(c.kubectl, ['get', 'svc', 'test-svc']));
    assert.equal(svc.rows[0]?.[1], 'ClusterIP');
    assert.ok(within(svc.rows[0]?.[2] ?? '', SERVICE_CIDR), `CLUSTER-IP in ${SERVICE_CIDR}`);
  });

  it("says in each pod's events when its ipvlan link is a macvlan one", async () => {
    const master = c.nodes.fabric.node('master');
    assert.ok(master);
    const substituted = !(await kernelHasIpvlan(master.netns, 'eth0'));
    for (const p of [...app1, ...app2]) {
      const events = await eventually(`events of ${p.name}`, 30_000, async () => {
        const out = await kubectlOk(c.kubectl, [
          'get',
          'events',
          '--field-selector',
          `involvedObject.name=${p.name},reason=${LINK_SUBSTITUTED_REASON}`,
          '-o',
          'jsonpath={.items[*].message}',
        ]);
        return !substituted || out ? out : undefined;
      });
      if (substituted)
        assert.match(
          events,
          /this kernel has no ipvlan: eth0 from network "kube-system\/ipvlan-eth[01]" is a macvlan link/,
        );
      else assert.equal(events, '');
    }
  });

  it('test-app-1 on master pings its host, the pod on worker and, across subnets, test-app-2 on worker', async () => {
    const onMaster = app1.find((p) => p.node === 'master') as RunningPod;
    const onWorker = app1.find((p) => p.node === 'worker') as RunningPod;
    const app2Worker = app2.find((p) => p.node === 'worker') as RunningPod;
    assert.ok(within(onWorker.podIP, '172.31.199.190-172.31.199.194'));
    assert.ok(within(app2Worker.podIP, '192.168.0.161-192.168.0.165'));
    for (const target of ['172.31.199.183', onWorker.podIP, app2Worker.podIP])
      assert.ok(await pings(c, onMaster.name, target), `${onMaster.name} -> ${target}`);
  });
});
