// The product installed onto a real node (containerd, kubelet, kube-proxy) as a cluster installs it: its
// image imported into containerd and `kubectl apply -k` of deploy/base with only the host directories
// moved. The node's network is seed 000's with Calico replaced by Debian's bridge, `ipam.type: spiderpool`:
// every pod address comes from kubelet → containerd → the plugin the agent's init container installed →
// the installed agent. Then the quick start verbatim, the pod webhook through its Service, and an upgrade
// of the agent DaemonSet while pods come and go.
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './cluster/install.ts';
import { kubectlOk } from './cluster/kubectl.ts';
import { eventually } from './harness/wait.ts';
import { startRealCluster, type RealCluster } from './realnode/cluster.ts';
import { pidsInCgroup } from './realnode/host.ts';
import {
  agentSocketDir,
  clusterConflist,
  installProduct,
  NAMESPACE,
  productImageArchive,
  type Installation,
} from './realnode/install.ts';
import { nodeBinaries } from './realnode/node.ts';

// Its own name, link and pod CIDR, so that it can run beside e2e/realnode.test.ts.
const NODE = 'install';
const LINK = '192.168.253.8/30';
// The subnet of nginx-ippool-v4: the host routes it to the node, so the apiserver reaches the pods.
const POD_CIDR = '10.244.0.0/16';
const POOL = 'nginx-ippool-v4';
const FIXTURES = join(repoRoot, 'e2e/fixtures/calico-quickstart');

interface Pod {
  metadata: { name: string; deletionTimestamp?: string };
  status: { phase?: string; podIP?: string };
}
interface KubeEvent {
  metadata: { name: string };
  reason: string;
  message: string;
  involvedObject: { kind: string; name: string };
}

// nginx-ippool-v4's range, 10.244.100.0-10.244.200.1.
const inPool = (ip: string) => {
  const [a, b, c, d] = ip.split('.').map(Number);
  return (
    a === 10 &&
    b === 244 &&
    c !== undefined &&
    d !== undefined &&
    c * 256 + d >= 100 * 256 &&
    c * 256 + d <= 200 * 256 + 1
  );
};
const rssMb = (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('install on a real node: kubectl apply -k, the quick start, and an agent upgrade', function () {
  this.timeout(120_000);
  let c: RealCluster | undefined;
  let install: Installation | undefined;
  const cluster = () => {
    if (!c) throw new Error('the cluster did not start');
    return c;
  };
  const k = (args: string[], stdin?: string) => kubectlOk(cluster().kubectl, args, { stdin });
  const nginxPods = async () =>
    (JSON.parse(await k(['get', 'pods', '-l', 'app=nginx', '-o', 'json'])) as { items: Pod[] }).items;
  const running = async (n: number) =>
    eventually(`${n} running nginx pods with addresses`, 90_000, async () => {
      const pods = (await nginxPods()).filter((p) => !p.metadata.deletionTimestamp);
      const ok = pods.filter((p) => p.status.phase === 'Running' && p.status.podIP);
      return pods.length === n && ok.length === n
        ? ok.map((p) => ({ name: p.metadata.name, ip: p.status.podIP as string }))
        : undefined;
    });
  const sandboxFailures = async () =>
    (JSON.parse(await k(['get', 'events', '-o', 'json'])) as { items: KubeEvent[] }).items.filter(
      (e) => e.reason === 'FailedCreatePodSandBox' || /CNI|network plugin/i.test(e.message),
    );

  before(async function () {
    // A cold cache builds kubelet, kube-proxy and the control plane, and the product's image.
    this.timeout(40 * 60_000);
    await nodeBinaries();
    await productImageArchive((m) => console.log(`      ${m}`));
    this.timeout(300_000);
    const started = Date.now();
    c = await startRealCluster({
      name: NODE,
      link: LINK,
      podCidr: POD_CIDR,
      cniConflist: clusterConflist(agentSocketDir(NODE)),
    });
    const nodeReady = (Date.now() - started) / 1000;
    install = await installProduct(c.node, c.kubectl, (m) => console.log(`      ${m}`));
    console.log(`      node Ready in ${nodeReady.toFixed(1)} s, product installed in ${install.seconds.toFixed(1)} s`);
  });

  after(async function () {
    this.timeout(120_000);
    try {
      await c?.stop();
    } finally {
      install?.cleanup();
    }
  });

  it("the agent's init container put the three plugins and the probe tools into the node's CNI bin directory", () => {
    for (const plugin of [
      'spiderpool',
      'coordinator',
      'ifacer',
      'spiderpool-tools/arping',
      'spiderpool-tools/ndisc6',
    ]) {
      const s = statSync(join(cluster().node.cniBinDir, plugin));
      assert.ok(s.isFile() && (s.mode & 0o111) !== 0, `${plugin} is not an executable`);
    }
  });

  it('one controller replica holds the Lease and the apiserver calls the webhooks through their Service', async () => {
    const holder = await k([
      '-n',
      NAMESPACE,
      'get',
      'lease',
      'spiderpool-controller',
      '-o',
      'jsonpath={.spec.holderIdentity}',
    ]);
    const replicas = await k([
      '-n',
      NAMESPACE,
      'get',
      'pods',
      '-l',
      'app.kubernetes.io/name=spiderpool-controller',
      '-o',
      'json',
    ]);
    const names = (JSON.parse(replicas) as { items: Pod[] }).items
      .filter((p) => p.status.phase === 'Running')
      .map((p) => p.metadata.name);
    assert.ok(names.includes(holder), `Lease holder ${holder} is not a running replica (${names.join(', ')})`);
    for (const kind of ['validatingwebhookconfiguration', 'mutatingwebhookconfiguration']) {
      const config = JSON.parse(await k(['get', kind, 'spiderpool-controller', '-o', 'json'])) as {
        webhooks: { name: string; clientConfig: { service?: { name: string; namespace: string }; url?: string } }[];
      };
      for (const w of config.webhooks) {
        assert.equal(w.clientConfig.url, undefined, `${kind} ${w.name}`);
        assert.deepEqual(
          [w.clientConfig.service?.namespace, w.clientConfig.service?.name],
          [NAMESPACE, 'spiderpool-controller'],
          `${kind} ${w.name}`,
        );
      }
    }
    // The CRD webhook refuses through the Service too.
    const bad = await cluster().kubectl(['apply', '-f', '-'], {
      stdin: `apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderIPPool
metadata: {name: outside}
spec: {subnet: 10.246.0.0/24, ips: [10.247.0.1]}
`,
    });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /admission webhook .*denied the request/);
  });

  it('the quick start: 2 nginx pods get addresses from nginx-ippool-v4 through the installed plugin and agent', async () => {
    await k(['apply', '-f', join(FIXTURES, 'nginx-ippool-v4.yaml')]);
    await k(['apply', '-f', join(FIXTURES, 'nginx-deployment.yaml')]);
    const pods = await running(2);
    for (const p of pods) assert.ok(inPool(p.ip), `${p.name} has ${p.ip}, outside ${POOL}`);
    // kubectl get se: which pod holds which address, from which pool.
    const se = await k(['get', 'se', '--no-headers']);
    for (const p of pods) assert.match(se, new RegExp(`^${p.name}\\s+eth0\\s+${POOL}\\s+${p.ip}/16\\s`, 'm'));
  });

  it('scaled to 3 the pods stay in the pool, ping each other, and kubectl get sp shows ALLOCATED-IP-COUNT 3', async () => {
    await k(['scale', 'deployment', 'nginx', '--replicas', '3']);
    const pods = await running(3);
    for (const p of pods) assert.ok(inPool(p.ip), `${p.name} has ${p.ip}, outside ${POOL}`);
    for (const from of pods) {
      for (const to of pods.filter((p) => p !== from)) {
        const out = await k(['exec', from.name, '--', 'ping', '-c', '1', '-W', '5', to.ip]);
        assert.match(out, /1 packets received/, `${from.name} → ${to.name}`);
      }
    }
    // The installed agent served them: its metrics, on the node's address as deploy/product/agent.yaml sets.
    const metrics = await (await fetch(`http://${cluster().node.address}:5711/metrics`)).text();
    const allocations = Number(/^spiderpool_ipam_allocation_counts_total\S* (\d+)/m.exec(metrics)?.[1]);
    assert.ok(allocations >= 3, `the agent counts ${allocations} allocations`);
    const table = await eventually('ALLOCATED-IP-COUNT 3', 30_000, async () => {
      const out = await k(['get', 'sp', POOL]);
      const [header = '', row = ''] = out.trim().split('\n');
      const column = header.split(/\s+/).indexOf('ALLOCATED-IP-COUNT');
      return row.split(/\s+/)[column] === '3' ? out : undefined;
    });
    assert.match(table, /ALLOCATED-IP-COUNT/);
  });

  it('a pod on this node whose pool serves another node is refused by the pod webhook', async () => {
    await k(
      ['apply', '-f', '-'],
      `apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderIPPool
metadata: {name: elsewhere-v4}
spec: {subnet: 10.245.0.0/24, ips: [10.245.0.10-10.245.0.20], nodeName: [some-other-node]}
`,
    );
    const r = await cluster().kubectl(['apply', '-f', '-'], {
      stdin: `apiVersion: v1
kind: Pod
metadata:
  name: elsewhere
  annotations: {ipam.spidernet.io/ippool: '{"ipv4":["elsewhere-v4"]}'}
spec:
  nodeName: ${NODE}
  containers: [{name: c, image: nginx, imagePullPolicy: IfNotPresent}]
`,
    });
    assert.notEqual(r.code, 0, 'the pod was created');
    assert.match(r.stderr, /admission webhook .*denied the request.*elsewhere-v4.*nodeName \[some-other-node\]/);
  });

  it('upgrading the agent DaemonSet while pods come and go replaces the plugins without a failed ADD', async function () {
    this.timeout(240_000);
    const plugin = join(cluster().node.cniBinDir, 'spiderpool');
    const before = statSync(plugin).ino;
    const earlier = new Set((await sandboxFailures()).map((e) => e.metadata.name));
    await k([
      '-n',
      NAMESPACE,
      'patch',
      'daemonset',
      'spiderpool-agent',
      '-p',
      JSON.stringify({
        spec: { template: { metadata: { annotations: { 'e2e.spiderpool.io/upgrade': `${Date.now()}` } } } },
      }),
    ]);
    // Pods are created and deleted all through the rollout and a little after it.
    let rolled = false;
    const rollout = k([
      '-n',
      NAMESPACE,
      'rollout',
      'status',
      'daemonset/spiderpool-agent',
      '--timeout',
      '180s',
    ]).finally(() => {
      rolled = true;
    });
    const started = Date.now();
    let cycles = 0;
    for (let stepsAfter = 0; stepsAfter < 2; cycles++) {
      await k(['scale', 'deployment', 'nginx', '--replicas', cycles % 2 === 0 ? '5' : '3']);
      await sleep(3_000);
      if (rolled) stepsAfter++;
    }
    await rollout;
    await k(['scale', 'deployment', 'nginx', '--replicas', '3']);
    const pods = await running(3);
    for (const p of pods) assert.ok(inPool(p.ip), `${p.name} has ${p.ip}, outside ${POOL}`);
    assert.notEqual(statSync(plugin).ino, before, 'the plugin was not replaced');
    // A pod scaled away while kubelet was still setting it up is refused an address, rightly: the agent
    // finds it terminating or already deleted.
    const live = new Set((await nginxPods()).filter((p) => !p.metadata.deletionTimestamp).map((p) => p.metadata.name));
    const gone = /is terminating or finished|PodNotFound: pod \S+ with UID \S+ not found;/;
    const failures = (await sandboxFailures())
      .filter((e) => !earlier.has(e.metadata.name))
      .filter((e) => live.has(e.involvedObject.name) || !gone.test(e.message));
    assert.deepEqual(
      failures.map((e) => `${e.involvedObject.name}: ${e.reason}: ${e.message}`),
      [],
    );
    // Releases that came while no agent was there are not lost either.
    // busybox httpd ignores SIGTERM, so the pods scaled away take their 30 s grace period to go.
    await eventually('ALLOCATED-IP-COUNT back to 3', 90_000, async () => {
      const count = await k(['get', 'sp', POOL, '-o', 'jsonpath={.status.allocatedIPCount}']);
      return count === '3' ? true : undefined;
    });
    console.log(`      rollout with ${cycles} scale steps in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });

  it('reports the RSS of the installed daemons, idle', async () => {
    await sleep(5_000);
    const daemons: Record<string, number[]> = {};
    for (const pid of pidsInCgroup(cluster().node.cgroup)) {
      let cmdline;
      try {
        cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        continue; // ended meanwhile
      }
      const name = /\/opt\/spiderpool\/(agent|controller|webhooks)\.mjs/.exec(cmdline)?.[1];
      if (name) (daemons[name] ??= []).push(pid);
    }
    assert.deepEqual(Object.keys(daemons).sort(), ['agent', 'controller', 'webhooks']);
    console.log(
      `      RSS idle: ${Object.entries(daemons)
        .map(([n, pids]) => `${n} ${pids.map((p) => rssMb(p).toFixed(0)).join('+')} MB`)
        .join(', ')}`,
    );
  });
});
