// The built `coordinator` executable on a dual-stack pod in real network namespaces: IPv6 host routes and rules,
// the reply pinning for both families, and an IPv6 multipath default route over eth0 and net1 split when net1's
// routes move to table 101.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { AGENT_PATHS } from '../../lib/agent-api.ts';
import { clusterConfig } from './testing/cluster-config.ts';
import { addNetns, deleteNetns, execInNetns, ip } from '../../e2e/kubelet/netns.ts';
import { buildPlugin } from '../build.ts';
import { FakeAgent } from '../skel/testing/fake-agent.ts';
import { buildProbeTools } from '../tools/build.ts';

const sfx = randomBytes(3).toString('hex');
const NODE = `cd6-${sfx}-node`;
const LAN = `cd6-${sfx}-lan`;
const POD = `cd6-${sfx}-pod`;
const CID = `d${sfx}0123456789abcdef`;
const HOST_VETH = `veth${CID.slice(0, 11)}`;

const cluster = clusterConfig({
  overlayPodCIDR: ['fd00:244::/56'],
  serviceCIDR: ['fd00:233::/108', '10.233.0.0/18'],
});

describe('coordinator plugin: IPv6 and dual stack', function () {
  this.timeout(180_000);
  let bin: string;
  let agent: FakeAgent;

  const run = (ifName: string, ips: string[]) =>
    execInNetns(NODE, [bin], {
      env: {
        PATH: process.env.PATH ?? '',
        CNI_COMMAND: 'ADD',
        CNI_CONTAINERID: CID,
        CNI_NETNS: `/var/run/netns/${POD}`,
        CNI_IFNAME: ifName,
        CNI_PATH: '/opt/cni/bin',
        CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=web-0;K8S_POD_UID=uid-1',
      },
      stdin: JSON.stringify({
        cniVersion: '1.0.0',
        name: 'net',
        type: 'coordinator',
        ipam_unix_socket_path: agent.socketPath,
        prevResult: {
          cniVersion: '1.0.0',
          interfaces: [{ name: ifName, sandbox: `/var/run/netns/${POD}` }],
          ips: ips.map((address) => ({ address, interface: 0 })),
        },
      }),
    });
  const inPod = async (...args: string[]) => (await execInNetns(POD, ['ip', ...args])).stdout;
  const macvlan = async (name: string, addresses: string[]) => {
    await ip(['-n', NODE, 'link', 'add', name, 'link', 'ens192', 'type', 'macvlan', 'mode', 'bridge']);
    await ip(['-n', NODE, 'link', 'set', name, 'netns', POD]);
    for (const a of addresses)
      await ip(['-n', POD, 'addr', 'add', a, 'dev', name, ...(a.includes(':') ? ['nodad'] : [])]);
    await ip(['-n', POD, 'link', 'set', name, 'up']);
  };

  before(async () => {
    buildProbeTools();
    bin = (await buildPlugin('coordinator')).executable;
    agent = await FakeAgent.start();
    agent.on(`GET ${AGENT_PATHS.coordinatorConfig}`, { status: 200, body: cluster });
    for (const ns of [NODE, LAN, POD]) await addNetns(ns);
    await ip(['link', 'add', 'ens192', 'netns', NODE, 'type', 'veth', 'peer', 'name', 'uplink', 'netns', LAN]);
    await ip(['-n', NODE, 'addr', 'add', '192.168.78.1/24', 'dev', 'ens192']);
    await ip(['-n', NODE, 'addr', 'add', 'fd00:78::1/64', 'dev', 'ens192', 'nodad']);
    await ip(['-n', NODE, 'link', 'set', 'ens192', 'up']);
    await ip(['-n', LAN, 'link', 'set', 'uplink', 'up']);
    await macvlan('eth0', ['10.6.1.10/16', 'fd00:6::10/64']);
    await ip(['-n', POD, 'route', 'add', 'default', 'via', '10.6.0.1', 'dev', 'eth0']);
    await ip(['-n', POD, '-6', 'route', 'add', 'default', 'via', 'fd00:6::1', 'dev', 'eth0']);
  });

  after(async () => {
    for (const ns of [POD, NODE, LAN]) await deleteNetns(ns);
    await agent?.stop();
  });

  it('underlay dual-stack eth0: /128 host routes both ways, IPv6 hijack routes, pinning for both families', async () => {
    const r = await run('eth0', ['10.6.1.10/16', 'fd00:6::10/64']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const main6 = await inPod('-6', 'route', 'show', 'table', 'main');
    assert.match(main6, /^fd00:78::1 dev veth0 .*metric/m, main6);
    for (const cidr of ['fd00:244::/56', 'fd00:233::/108'])
      assert.match(main6, new RegExp(`^${cidr} via fd00:78::1 dev veth0`, 'm'));
    assert.match(
      (await execInNetns(NODE, ['ip', '-6', 'route', 'show', 'table', '500'])).stdout,
      new RegExp(`^fd00:6::10 dev ${HOST_VETH}`, 'm'),
    );
    assert.match((await execInNetns(NODE, ['ip', '-6', 'rule', 'show'])).stdout, /^1000:\s+from all lookup 500/m);
    assert.match(await inPod('-6', 'rule', 'show'), /^1000:\s+from all fwmark 0x1 lookup 100/m);
    assert.match(await inPod('-6', 'route', 'show', 'table', '100'), /^default via fd00:78::1 dev veth0/m);
    assert.match(await inPod('-4', 'route', 'show', 'table', '100'), /^default via 192\.168\.78\.1 dev veth0/m);
    const mangle6 = (await execInNetns(POD, ['ip6tables', '-t', 'mangle', '-S'])).stdout;
    assert.match(mangle6, /-A PREROUTING -i veth0 -m conntrack --ctstate NEW -j MARK --set-xmark 0x1\/0xffffffff/);
    assert.match(mangle6, /-A OUTPUT -j CONNMARK --restore-mark/);
    assert.equal((await execInNetns(POD, ['ping', '-6', '-c', '1', '-W', '2', 'fd00:78::1'])).code, 0);

    const again = await run('eth0', ['10.6.1.10/16', 'fd00:6::10/64']);
    assert.equal(again.code, 0, 'a retried ADD succeeds');
    const rules = (await execInNetns(POD, ['ip6tables', '-t', 'mangle', '-S'])).stdout.match(
      /CONNMARK --restore-mark/g,
    );
    assert.equal(rules?.length, 1, 'the iptables rules are not added twice');
  });

  it('net1 with an IPv6 default merged into a multipath route: its hop moves to table 101, eth0 keeps its own', async () => {
    await macvlan('net1', ['10.7.1.10/16', 'fd00:7::10/64']);
    await ip(['-n', POD, '-6', 'route', 'append', 'default', 'via', 'fd00:7::1', 'dev', 'net1']);
    assert.match(
      await inPod('-6', 'route', 'show', 'default'),
      /nexthop via fd00:7::1 dev net1/,
      'the kernel merged them',
    );

    const r = await run('net1', ['10.7.1.10/16', 'fd00:7::10/64']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const main6 = await inPod('-6', 'route', 'show', 'table', 'main');
    assert.match(main6, /^default via fd00:6::1 dev eth0/m, `main keeps eth0's hop as a plain route:\n${main6}`);
    assert.doesNotMatch(main6, /^(?!fe80::\/64).*dev net1/m, `only net1's link-local route stays in main:\n${main6}`);
    const t101 = await inPod('-6', 'route', 'show', 'table', '101');
    assert.match(t101, /^default via fd00:7::1 dev net1/m, t101);
    assert.match(t101, /^fd00:7::\/64 dev net1/m, t101);
    assert.match(await inPod('-6', 'rule', 'show'), /from fd00:7::10 lookup 101/);
  });
});
