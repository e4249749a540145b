// The node data plane on a simulated L2 segment, through the real agents and the kubelet stand-in: the cluster
// network is macvlan + spiderpool + coordinator with conflict and gateway detection and a MAC prefix. Another
// namespace on the segment answering for a pool address, a gateway nobody answers for, the gratuitous ARP a
// starting pod sends, and the reply pinning that returns host-forwarded traffic over veth0.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { CoreV1Api, type CoreV1Event } from '@kubernetes/client-node';
import { GROUP, VERSION } from '../api/v2beta1/constants.ts';
import { buildProbeTools } from '../cni/tools/build.ts';
import { kubectlOk } from './cluster/kubectl.ts';
import { testCluster, type TestCluster } from './harness/cluster.ts';
import { startNodeSide, type NodeSide } from './harness/nodes.ts';
import { eventually } from './harness/wait.ts';
import { addNetns, deleteNetns, execInNetns, ip } from './kubelet/netns.ts';

const NS = 'dataplane-detection-e2e';
const POOL = 'dataplane-v4';
const NO_GW_POOL = 'dataplane-no-gateway';
const PREFIX = '0a:1b';

const network = {
  cniVersion: '0.4.0',
  name: 'underlay',
  plugins: [
    { type: 'macvlan', master: 'eth0', mode: 'bridge', ipam: { type: 'spiderpool' } },
    { type: 'coordinator', mode: 'underlay', detectIPConflict: true, detectGateway: true, podMACPrefix: PREFIX },
  ],
};

const pool = (name: string, subnet: string, gateway: string, ips: string) => ({
  apiVersion: `${GROUP}/${VERSION}`,
  kind: 'SpiderIPPool',
  metadata: { name },
  spec: { subnet, gateway, ips: [ips] },
});

describe('data plane: detection, announcements and reply pinning', function () {
  this.timeout(240_000);
  let c: TestCluster;
  let nodes: NodeSide;
  let core: CoreV1Api;
  let intruder: string;
  let client: string;
  let intruderMac: string;

  const createPod = (name: string, ipPool: string) =>
    core.createNamespacedPod({
      namespace: NS,
      body: {
        metadata: { name, annotations: { 'ipam.spidernet.io/ippool': JSON.stringify({ ipv4: [ipPool] }) } },
        spec: { nodeName: 'worker1', containers: [{ name: 'c', image: 'busybox' }] },
      },
    });
  const running = (name: string) =>
    eventually(`pod ${name} running`, 90_000, async () => {
      const p = await core.readNamespacedPod({ namespace: NS, name });
      return p.status?.phase === 'Running' ? p : undefined;
    });
  const events = async (name: string): Promise<CoreV1Event[]> =>
    (await core.listNamespacedEvent({ namespace: NS, fieldSelector: `involvedObject.name=${name}` })).items;
  const inPod = async (name: string, ...argv: string[]) => (await nodes.kubelet.exec(NS, name, argv)).stdout;

  before(async () => {
    buildProbeTools();
    c = await testCluster();
    core = c.kubeConfig.makeApiClient(CoreV1Api);
    await kubectlOk(c.kubectl, ['create', 'namespace', NS]);
    for (const p of [
      pool(POOL, '10.7.0.0/24', '10.7.0.1', '10.7.0.10-10.7.0.19'),
      pool(NO_GW_POOL, '10.8.0.0/24', '10.8.0.1', '10.8.0.10-10.8.0.12'),
    ])
      await kubectlOk(c.kubectl, ['apply', '-f', '-'], { stdin: JSON.stringify(p) });
    nodes = await startNodeSide({
      kubeConfig: c.kubeConfig,
      kubeconfigPath: c.cp.kubeconfig,
      nodes: ['worker1'],
      fabric: { nics: ['eth0'], router: { eth0: ['10.7.0.1/24'] } },
      clusterNetwork: network,
    });
    // A host on the segment that already uses the pool's first address.
    intruder = `${nodes.fabric.prefix}-intruder`;
    await addNetns(intruder);
    await ip([
      'link',
      'add',
      'eth0',
      'netns',
      intruder,
      'type',
      'veth',
      'peer',
      'name',
      'v-intruder',
      'netns',
      nodes.fabric.netns,
    ]);
    await ip(['-n', nodes.fabric.netns, 'link', 'set', 'v-intruder', 'master', 'br-eth0', 'up']);
    await ip(['-n', intruder, 'addr', 'add', '10.7.0.10/24', 'dev', 'eth0']);
    await ip(['-n', intruder, 'link', 'set', 'eth0', 'up']);
    intruderMac = (JSON.parse(await ip(['-n', intruder, '-j', 'link', 'show', 'eth0'])) as { address: string }[])[0]
      ?.address as string;
  });

  after(async () => {
    await c?.kubectl(['delete', 'namespace', NS, '--wait=false']);
    for (const ns of [intruder, client]) if (ns) await deleteNetns(ns);
    await nodes?.stop();
    for (const p of [POOL, NO_GW_POOL]) await c?.kubectl(['delete', 'sp', p, '--wait=false']);
  });

  it('an address another host answers for fails ADD naming its MAC; the retry gets the next address', async () => {
    const capture = await captureArp(nodes.fabric.netns, 'br-eth0');
    await createPod('dup', POOL);
    const pod = await running('dup');
    assert.equal(pod.status?.podIP, '10.7.0.11', 'the retry skipped the address set aside');
    const failures = (await events('dup')).filter((e) => e.reason === 'FailedCreatePodSandBox');
    assert.ok(
      failures.some((e) =>
        e.message?.includes(`IP 10.7.0.10 of interface eth0 is already in use by ${intruderMac} on the network`),
      ),
      `an event names the address and the MAC: ${failures.map((e) => e.message).join('\n')}`,
    );

    // podMACPrefix: the prefix and the four bytes of the IPv4 address.
    const link = JSON.parse(await inPod('dup', 'ip', '-j', 'link', 'show', 'eth0')) as { address: string }[];
    assert.equal(link[0]?.address, `${PREFIX}:0a:07:00:0b`);
    const gratuitous = new RegExp(
      `^\\S+ ${PREFIX}:0a:07:00:0b > ff:ff:ff:ff:ff:ff, ethertype ARP .*Request who-has 10\\.7\\.0\\.11 tell 10\\.7\\.0\\.11`,
      'm',
    );
    const arp = await capture.stop(gratuitous);
    assert.match(
      arp,
      gratuitous,
      `a gratuitous ARP for 10.7.0.11 from the prefixed MAC is seen on the segment:\n${arp}`,
    );
    assert.match(
      arp,
      /who-has 10\.7\.0\.10 tell 0\.0\.0\.0/,
      'the conflict probe is an RFC 5227 probe (sender 0.0.0.0)',
    );
  });

  it('a gateway that does not answer fails ADD naming the gateway and the interface', async () => {
    await createPod('nogw', NO_GW_POOL);
    const message = await eventually(
      'a FailedCreatePodSandBox event',
      60_000,
      async () => (await events('nogw')).find((e) => e.reason === 'FailedCreatePodSandBox')?.message,
    );
    assert.match(message, /gateway 10\.8\.0\.1 is unreachable on interface eth0/);
    const pod = await core.readNamespacedPod({ namespace: NS, name: 'nogw' });
    assert.notEqual(pod.status?.phase, 'Running');
  });

  it('replies to traffic the host forwards to an underlay pod leave over veth0, and do not without the pinning', async () => {
    // A client behind the node (as behind kube-proxy's NodePort or a routed host network): only the node knows
    // its way back; the underlay gateway does not.
    const node = nodes.fabric.node('worker1');
    assert.ok(node);
    client = `${nodes.fabric.prefix}-client`;
    await addNetns(client);
    await ip([
      'link',
      'add',
      'eth0',
      'netns',
      client,
      'type',
      'veth',
      'peer',
      'name',
      'cali-client',
      'netns',
      node.netns,
    ]);
    await ip(['-n', node.netns, 'addr', 'add', '10.99.0.1/24', 'dev', 'cali-client']);
    await ip(['-n', node.netns, 'link', 'set', 'cali-client', 'up']);
    await execInNetns(node.netns, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    await ip(['-n', client, 'addr', 'add', '10.99.0.2/24', 'dev', 'eth0']);
    await ip(['-n', client, 'link', 'set', 'eth0', 'up']);
    await ip(['-n', client, 'route', 'add', 'default', 'via', '10.99.0.1']);
    const ping = () => execInNetns(client, ['ping', '-c', '2', '-W', '1', '10.7.0.11']);

    const mangle = await inPod('dup', 'iptables', '-t', 'mangle', '-S');
    assert.match(mangle, /-A PREROUTING -i veth0 -m conntrack --ctstate NEW -j MARK --set-xmark 0x1\/0xffffffff/);
    assert.match(mangle, /-A PREROUTING -m mark --mark 0x1 -j CONNMARK --save-mark/);
    assert.match(mangle, /-A OUTPUT -j CONNMARK --restore-mark/);
    assert.match(await inPod('dup', 'ip', 'rule', 'show'), /^1000:\s+from all fwmark 0x1 lookup 100/m);
    assert.match(
      await inPod('dup', 'ip', 'route', 'show', 'table', '100'),
      /^default via 192\.168\.250\.\d+ dev veth0/m,
    );
    assert.equal((await ping()).code, 0, 'the client reaches the pod through the node');

    await nodes.kubelet.exec(NS, 'dup', ['ip', 'rule', 'del', 'fwmark', '0x1', 'lookup', '100']);
    await execInNetns(node.netns, ['conntrack', '-F']).catch(() => undefined);
    assert.notEqual((await ping()).code, 0, 'without the rule the reply takes the underlay default route and is lost');

    await nodes.kubelet.exec(NS, 'dup', ['ip', 'rule', 'add', 'fwmark', '0x1', 'lookup', '100', 'priority', '1000']);
    assert.equal((await ping()).code, 0);
  });
});

/**
 * tcpdump on a bridge of the fabric, from once it listens until stop(); the text it printed. Packets are handed to
 * tcpdump one by one (--immediate-mode), and stop() first waits up to 5 s for the line the test expects: a packet
 * still in the capture buffer when tcpdump is interrupted would be lost.
 */
async function captureArp(netns: string, dev: string): Promise<{ stop(expected: RegExp): Promise<string> }> {
  const child = spawn(
    'ip',
    ['netns', 'exec', netns, 'tcpdump', '--immediate-mode', '-l', '-n', '-e', '-i', dev, 'arp'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise<void>((resolve) => child.stderr.once('data', () => resolve()));
  return {
    stop: async (expected) => {
      const deadline = Date.now() + 5_000;
      while (!expected.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      return new Promise((resolve) => {
        child.once('exit', () => resolve(out));
        child.kill('SIGINT');
      });
    },
  };
}
