// The built `coordinator` executable against real network namespaces: a node netns (the host the
// plugin runs in) with an uplink, and a pod netns whose eth0 and net1 are macvlan on that uplink.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { AGENT_PATHS } from '../../lib/agent-api.ts';
import { clusterConfig } from './testing/cluster-config.ts';
import { addNetns, deleteNetns, execInNetns, ip } from '../../e2e/kubelet/netns.ts';
import { buildPlugin } from '../build.ts';
import { FakeAgent } from '../skel/testing/fake-agent.ts';

const sfx = randomBytes(3).toString('hex');
const NODE = `cdn-${sfx}-node`;
const LAN = `cdn-${sfx}-lan`;
const POD = `cdn-${sfx}-pod`;
const CID = `c${sfx}0123456789abcdef`;
const HOST_VETH = `veth${CID.slice(0, 11)}`;
const HOST_IP = '192.168.77.1';

const cluster = clusterConfig({
  overlayPodCIDR: ['10.233.64.0/18'],
  serviceCIDR: ['10.233.0.0/18'],
  hijackCIDR: ['169.254.0.0/16'],
});

describe('coordinator plugin in network namespaces', function () {
  this.timeout(180_000);
  let bin: string;
  let agent: FakeAgent;

  const run = async (command: string, ifName: string, prevResult?: unknown) => {
    const env = {
      PATH: process.env.PATH ?? '',
      CNI_COMMAND: command,
      CNI_CONTAINERID: CID,
      CNI_NETNS: `/var/run/netns/${POD}`,
      CNI_IFNAME: ifName,
      CNI_PATH: '/opt/cni/bin',
      CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=web-0;K8S_POD_UID=uid-1',
    };
    const stdin = JSON.stringify({
      cniVersion: '1.0.0',
      name: 'net',
      type: 'coordinator',
      mode: 'auto',
      tunePodRoutes: true,
      podRPFilter: 0,
      ipam_unix_socket_path: agent.socketPath,
      ...(prevResult ? { prevResult } : {}),
    });
    return execInNetns(NODE, [bin], { env, stdin });
  };
  const inPod = async (...args: string[]) => (await execInNetns(POD, ['ip', ...args])).stdout;
  const inNode = async (...args: string[]) => (await execInNetns(NODE, ['ip', ...args])).stdout;
  const prev = (nic: string, address: string) => ({
    cniVersion: '1.0.0',
    interfaces: [{ name: nic, sandbox: `/var/run/netns/${POD}` }],
    ips: [{ address, interface: 0 }],
  });
  const macvlan = async (name: string, address: string, gw: string, metric: string) => {
    await ip(['-n', NODE, 'link', 'add', name, 'link', 'ens192', 'type', 'macvlan', 'mode', 'bridge']);
    await ip(['-n', NODE, 'link', 'set', name, 'netns', POD]);
    await ip(['-n', POD, 'addr', 'add', address, 'dev', name]);
    await ip(['-n', POD, 'link', 'set', name, 'up']);
    await ip(['-n', POD, 'route', 'add', 'default', 'via', gw, 'dev', name, 'metric', metric]);
  };

  before(async () => {
    bin = (await buildPlugin('coordinator')).executable;
    agent = await FakeAgent.start();
    for (const ns of [NODE, LAN, POD]) await addNetns(ns);
    await ip(['link', 'add', 'ens192', 'netns', NODE, 'type', 'veth', 'peer', 'name', 'uplink', 'netns', LAN]);
    await ip(['-n', NODE, 'addr', 'add', `${HOST_IP}/24`, 'dev', 'ens192']);
    await ip(['-n', NODE, 'link', 'set', 'ens192', 'up']);
    await ip(['-n', LAN, 'link', 'set', 'uplink', 'up']);
    await macvlan('eth0', '10.6.212.10/16', '10.6.0.1', '0');
  });

  after(async () => {
    for (const ns of [POD, NODE, LAN]) await deleteNetns(ns);
    await agent?.stop();
  });

  it('underlay eth0: veth0 to the host, hijack routes via the host IP, host rule 1000 and table 500', async () => {
    agent.on(`GET ${AGENT_PATHS.coordinatorConfig}`, { status: 200, body: cluster });
    const prevResult = prev('eth0', '10.6.212.10/16');
    const r = await run('ADD', 'eth0', prevResult);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), prevResult, 'prints prevResult unchanged');
    assert.deepEqual(agent.requests.at(-1)?.query, { podNamespace: 'ns1', podName: 'web-0' });

    const main = await inPod('route', 'show', 'table', 'main');
    assert.match(main, /^default via 10\.6\.0\.1 dev eth0/m);
    assert.match(main, new RegExp(`^${HOST_IP} dev veth0 scope link src 10\\.6\\.212\\.10`, 'm'));
    for (const cidr of ['10.233.0.0/18', '10.233.64.0/18', '169.254.0.0/16'])
      assert.match(main, new RegExp(`^${cidr} via ${HOST_IP} dev veth0`, 'm'));
    assert.match(await inPod('route', 'show', 'table', '101'), new RegExp(`^${HOST_IP} dev veth0 scope link`, 'm'));
    const veth0Mac = JSON.parse(await inPod('-j', 'link', 'show', 'veth0'))[0].address as string;
    assert.match(await execInNetns(POD, ['sysctl', '-n', 'net.ipv4.conf.all.rp_filter']).then((x) => x.stdout), /^0$/m);

    assert.match(await inNode('link', 'show', HOST_VETH), /state UP/);
    assert.match(await inNode('rule', 'show'), /^1000:\s+from all lookup 500/m);
    assert.match(
      await inNode('route', 'show', 'table', '500'),
      new RegExp(`^10\\.6\\.212\\.10 dev ${HOST_VETH} scope link`, 'm'),
    );
    assert.match(
      await inNode('neigh', 'show', '10.6.212.10'),
      new RegExp(`dev ${HOST_VETH} lladdr ${veth0Mac} PERMANENT`),
    );
    const hostMac = JSON.parse(await inNode('-j', 'link', 'show', HOST_VETH))[0].address as string;
    assert.match(await inPod('neigh', 'show', HOST_IP), new RegExp(`dev veth0 lladdr ${hostMac} PERMANENT`));
    assert.equal(
      (await execInNetns(POD, ['ping', '-c', '1', '-W', '2', HOST_IP])).code,
      0,
      'the pod reaches the host over veth0',
    );
  });

  it('eth0 + net1: net1 routes move to table 101 with `from <net1 ip> lookup 101`, main keeps eth0', async () => {
    await macvlan('net1', '10.7.0.10/16', '10.7.0.1', '100');
    agent.on(`GET ${AGENT_PATHS.coordinatorConfig}`, { status: 200, body: cluster });
    const r = await run('ADD', 'net1', prev('net1', '10.7.0.10/16'));
    assert.equal(r.code, 0, r.stdout + r.stderr);

    assert.match(await inPod('rule', 'show'), /from 10\.7\.0\.10 lookup 101/);
    const t101 = await inPod('route', 'show', 'table', '101');
    assert.match(t101, /^default via 10\.7\.0\.1 dev net1/m);
    assert.match(t101, /^10\.7\.0\.0\/16 dev net1 proto kernel scope link src 10\.7\.0\.10/m);
    assert.match(
      t101,
      /^10\.233\.0\.0\/18 via 192\.168\.77\.1 dev veth0/m,
      'hijack routes of a later NIC go to its table',
    );
    const main = await inPod('route', 'show', 'table', 'main');
    assert.doesNotMatch(main, /net1/, 'main has no net1 routes left');
    assert.match(main, /^default via 10\.6\.0\.1 dev eth0/m);
    assert.match(
      await inNode('route', 'show', 'table', '500'),
      new RegExp(`^10\\.7\\.0\\.10 dev ${HOST_VETH} scope link`, 'm'),
    );

    const again = await run('ADD', 'net1', prev('net1', '10.7.0.10/16'));
    assert.equal(again.code, 0, `a retried ADD succeeds: ${again.stdout}`);
  });

  it('ADD without prevResult is a config error', async () => {
    const r = await run('ADD', 'eth0');
    assert.equal(r.code, 1);
    assert.equal(JSON.parse(r.stdout).code, 7);
    assert.match(JSON.parse(r.stdout).msg, /no prevResult/);
  });

  it('DEL removes the host veth and host routes even while the agent answers 503, and is idempotent', async () => {
    agent.on(`GET ${AGENT_PATHS.coordinatorConfig}`, {
      status: 503,
      body: { reason: 'Unavailable', message: 'SpiderCoordinator default is not Synced' },
    });
    for (const nic of ['net1', 'eth0', 'eth0']) {
      const r = await run('DEL', nic);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal(r.stdout, '');
    }
    assert.equal((await execInNetns(NODE, ['ip', 'link', 'show', HOST_VETH])).code !== 0, true, 'host veth deleted');
    assert.doesNotMatch(await inNode('route', 'show', 'table', '500'), /10\.(6|7)\./);
    await deleteNetns(POD);
    assert.equal((await run('DEL', 'eth0')).code, 0, 'DEL after the pod netns is gone succeeds');
  });
});
