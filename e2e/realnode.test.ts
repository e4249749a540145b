// A real node (containerd, kubelet and kube-proxy in a network namespace of their own) on a control
// plane of its own: the quick-start nginx Deployment runs on it verbatim from local images, pods talk to
// each other, to a ClusterIP Service and to the apiserver, kubectl logs and exec work, and stopping it
// leaves no process, mount, namespace or cgroup behind and the kernel's sysctls as they were.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KUBERNETES_SERVICE_IP } from './cluster/control-plane.ts';
import { repoRoot } from './cluster/install.ts';
import { kubectlOk } from './cluster/kubectl.ts';
import { listNetns } from './kubelet/netns.ts';
import { eventually } from './harness/wait.ts';
import { startRealCluster, type RealCluster } from './realnode/cluster.ts';
import { cgroupExists, KUBELET_SYSCTLS, mountsUnder, pidsInCgroup, readSysctls } from './realnode/host.ts';
import { FIXED_HOST_PATHS, nodeBinaries } from './realnode/node.ts';

const NODE = 'realnode';
const CNI_RESULTS = '/var/lib/cni/results';

interface PodList {
  items: { metadata: { name: string }; status: { phase?: string; podIP?: string } }[];
}

// A zombie has ended; only its parent (pid 1 for orphaned shims and containers) has yet to reap it.
const alive = (pid: number) => {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
};
const rssMb = (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
const inPod = (ip: string, cidr: string) => ip.startsWith(cidr.split('.').slice(0, 3).join('.') + '.');
const httpGet = (host: string) => `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ${host} 80`;

describe('real node: containerd, kubelet and kube-proxy in their own network namespace', function () {
  this.timeout(60_000);
  let c: RealCluster | undefined;
  const sysctlsBefore = readSysctls(KUBELET_SYSCTLS);
  const hostPathsBefore = FIXED_HOST_PATHS.filter((p) => existsSync(p));
  let nginxPods: { name: string; ip: string }[] = [];

  const cluster = () => {
    if (!c) throw new Error('the cluster did not start');
    return c;
  };
  const exec = (pod: string, script: string) => kubectlOk(cluster().kubectl, ['exec', pod, '--', 'sh', '-c', script]);

  before(async function () {
    // A cold cache builds kubelet and kube-proxy (and the control plane) first; that is not bring-up.
    this.timeout(40 * 60_000);
    await nodeBinaries();
    this.timeout(120_000);
    const started = Date.now();
    c = await startRealCluster({ name: NODE });
    const pids = c.node.pids();
    console.log(
      `      bring-up ${((Date.now() - started) / 1000).toFixed(1)} s; RSS ${Object.entries(pids)
        .map(([n, pid]) => `${n} ${rssMb(pid).toFixed(0)} MB`)
        .join(', ')}`,
    );
  });

  after(async function () {
    this.timeout(60_000);
    await c?.stop();
  });

  it('registers the node Ready with its InternalIP', async () => {
    const node = JSON.parse(await kubectlOk(cluster().kubectl, ['get', 'node', 'realnode', '-o', 'json'])) as {
      status: { addresses: { type: string; address: string }[] };
    };
    assert.deepEqual(
      node.status.addresses.find((a) => a.type === 'InternalIP')?.address,
      cluster().network.nodeAddress,
    );
  });

  it('runs the quick-start nginx Deployment verbatim: 2 pods with addresses from the node CNI', async () => {
    await kubectlOk(cluster().kubectl, [
      'apply',
      '-f',
      join(repoRoot, 'e2e/fixtures/calico-quickstart/nginx-deployment.yaml'),
    ]);
    nginxPods = await eventually('2 running nginx pods', 60_000, async () => {
      const list = JSON.parse(
        await kubectlOk(cluster().kubectl, ['get', 'pods', '-l', 'app=nginx', '-o', 'json']),
      ) as PodList;
      const running = list.items.filter((p) => p.status.phase === 'Running' && p.status.podIP);
      if (running.length !== 2) return undefined;
      return running.map((p) => ({ name: p.metadata.name, ip: p.status.podIP as string }));
    });
    for (const p of nginxPods)
      assert.ok(inPod(p.ip, cluster().network.podCidr), `${p.name} has ${p.ip}, outside ${cluster().network.podCidr}`);
  });

  it('one pod reaches the other over HTTP', async () => {
    const [a, b] = nginxPods;
    assert.ok(a && b);
    assert.match(await exec(a.name, httpGet(b.ip)), new RegExp(`200 OK[\\s\\S]*${b.name}`));
  });

  it('serves a ClusterIP Service through kube-proxy', async () => {
    await kubectlOk(cluster().kubectl, ['expose', 'deployment', 'nginx', '--port', '80']);
    const clusterIP = await kubectlOk(cluster().kubectl, [
      'get',
      'service',
      'nginx',
      '-o',
      'jsonpath={.spec.clusterIP}',
    ]);
    const [a] = nginxPods;
    assert.ok(a);
    // kube-proxy programs the rules shortly after the Service appears.
    const answer = await eventually('an answer through the Service', 20_000, async () => {
      const out = await exec(a.name, httpGet(clusterIP)).catch(() => '');
      return /200 OK/.test(out) ? out : undefined;
    });
    assert.ok(
      nginxPods.some((p) => answer.includes(p.name)),
      answer,
    );
  });

  it('runs busybox; kubectl logs and exec work; pods reach the apiserver through the kubernetes Service', async () => {
    const k = cluster().kubectl;
    await kubectlOk(k, [
      'run',
      'box',
      '--image',
      'busybox',
      '--image-pull-policy',
      'IfNotPresent',
      '--restart',
      'Never',
      '--',
      'sh',
      '-c',
      'echo hello from box; exec sleep 3600',
    ]);
    await eventually('box running', 60_000, async () =>
      (await k(['get', 'pod', 'box', '-o', 'jsonpath={.status.phase}'])).stdout === 'Running' ? true : undefined,
    );
    await eventually('the log line', 10_000, async () =>
      /hello from box/.test((await k(['logs', 'box'])).stdout) ? true : undefined,
    );
    assert.equal((await kubectlOk(k, ['exec', 'box', '--', 'hostname'])).trim(), 'box');
    const connect = await exec('box', `nc -w 5 ${KUBERNETES_SERVICE_IP} 443 </dev/null && echo connected`);
    assert.match(connect, /connected/);
  });

  it('the apiserver reaches pods at their addresses (as it calls webhooks)', async () => {
    const [a] = nginxPods;
    assert.ok(a);
    const page = await kubectlOk(cluster().kubectl, [
      'get',
      '--raw',
      `/api/v1/namespaces/default/pods/${a.name}:80/proxy/`,
    ]);
    assert.equal(page.trim(), a.name);
  });

  it('stops without leaving a process, mount, namespace, cgroup or changed sysctl', async function () {
    this.timeout(120_000);
    const { cp, node, network } = cluster();
    const pids = [...Object.values(node.pids()), ...cp.pids(), ...pidsInCgroup(node.cgroup)];
    assert.ok(pids.length > 10, `expected daemons, shims and containers, got ${pids.length} processes`);
    console.log(
      `      RSS with 3 pods: ${Object.entries(node.pids())
        .map(([n, pid]) => `${n} ${rssMb(pid).toFixed(0)} MB`)
        .join(', ')}`,
    );
    await cluster().stop();
    c = undefined;
    assert.deepEqual(pids.filter(alive), []);
    assert.equal(cgroupExists(node.cgroup), false);
    assert.deepEqual(mountsUnder(node.dir), []);
    assert.equal(existsSync(node.dir), false);
    assert.equal(existsSync(cp.dir), false);
    assert.equal((await listNetns()).includes(network.netns), false);
    assert.equal(existsSync(`/sys/class/net/${network.hostInterface}`), false);
    assert.deepEqual(readSysctls(KUBELET_SYSCTLS), sysctlsBefore);
    // Other tests' CNI plugins share /var/lib/cni, so only this node's cached results must be gone.
    const unshared = (paths: string[]) => paths.filter((p) => !p.startsWith('/var/lib/cni'));
    assert.deepEqual(unshared(FIXED_HOST_PATHS.filter((p) => existsSync(p))), unshared(hostPathsBefore));
    const results = existsSync(CNI_RESULTS) ? readdirSync(CNI_RESULTS) : [];
    assert.deepEqual(
      results.filter((f) => f.startsWith(`realnode-${NODE}-`)),
      [],
    );
  });
});
