// Seed 000 (Calico quick start) walked step by step in `--quickstart calico-quickstart`, the sandbox's
// default: Calico's IPAM switched to spiderpool, the pool nginx-ippool-v4 with its 25602 addresses, the
// nginx Deployment picking it by annotation, scaled from 2 to 3, and its pods reaching each other and the nodes.
import assert from 'node:assert/strict';
import { kubectlOk } from './cluster/kubectl.ts';
import { table } from './harness/table.ts';
import { eventually } from './harness/wait.ts';
import { quickstart } from './sandbox/quickstarts.ts';
import { startQuickstart, type QuickstartCluster } from './sandbox/start.ts';
import { applyFixture, pings, type RunningPod, runningPods, within } from './sandbox/steps.ts';

const POOL_RANGE = '10.244.100.0-10.244.200.1';

describe('quick start calico-quickstart (seed 000)', function () {
  this.timeout(300_000);
  let c: QuickstartCluster;
  const log: string[] = [];

  before(async function () {
    this.timeout(600_000);
    c = await startQuickstart(quickstart('calico-quickstart'), (m) => log.push(m));
  });
  after(async function () {
    this.timeout(120_000);
    await c?.stop();
  });

  /** `kubectl get sp` once the operator has counted the pool, as rows of the columns the document shows. */
  const getSp = (allocated: string) =>
    eventually(`nginx-ippool-v4 with ${allocated} allocated`, 60_000, async () => {
      const sp = table(await kubectlOk(c.kubectl, ['get', 'sp']));
      const row = sp.rows.find((r) => r[0] === 'nginx-ippool-v4');
      return sp.rows.length === 1 && row?.[3] === allocated && row[4] === '25602' ? sp : undefined;
    });

  it('applies nginx-ippool-v4: `kubectl get sp` shows it alone, with TOTAL-IP-COUNT 25602', async () => {
    await applyFixture(c.kubectl, 'apply', 'calico-quickstart/nginx-ippool-v4.yaml');
    const sp = await getSp('0');
    assert.deepEqual(sp.header.slice(0, 5), ['NAME', 'VERSION', 'SUBNET', 'ALLOCATED-IP-COUNT', 'TOTAL-IP-COUNT']);
    assert.deepEqual(sp.rows[0]?.slice(0, 5), ['nginx-ippool-v4', '4', '10.244.0.0/16', '0', '25602']);
  });

  let pods: RunningPod[];
  it('creates the nginx Deployment: two pods with addresses from nginx-ippool-v4, ALLOCATED-IP-COUNT 2', async () => {
    await applyFixture(c.kubectl, 'create', 'calico-quickstart/nginx-deployment.yaml');
    pods = await runningPods(c.kubectl, 'app=nginx', 2);
    for (const p of pods) assert.ok(within(p.podIP, POOL_RANGE), `${p.name}: ${p.podIP}`);
    await getSp('2');
  });

  it('`kubectl scale deploy nginx --replicas 3`: the third pod also gets an address from nginx-ippool-v4', async () => {
    assert.equal(
      (await kubectlOk(c.kubectl, ['scale', 'deploy', 'nginx', '--replicas', '3'])).trim(),
      'deployment.apps/nginx scaled',
    );
    const scaled = await runningPods(c.kubectl, 'app=nginx', 3);
    for (const p of pods)
      assert.equal(scaled.find((s) => s.name === p.name)?.podIP, p.podIP, `${p.name} keeps its address`);
    for (const p of scaled) assert.ok(within(p.podIP, POOL_RANGE), `${p.name}: ${p.podIP}`);
    pods = scaled;
    await getSp('3');
  });

  it('the pods reach each other across nodes and reach every node', async () => {
    const nodeIPs = [...new Set(pods.map((p) => p.hostIP))];
    for (const p of pods)
      for (const target of [...pods.filter((o) => o !== p).map((o) => o.podIP), ...nodeIPs])
        assert.ok(await pings(c, p.name, target), `${p.name} -> ${target}`);
  });
});
