// The plugins as the agent's init container installs them: the image's files (install-cni.sh and plugins/) in a
// directory of their own, install-cni.sh run by busybox into a fresh CNI bin directory, then the installed
// coordinator detecting a conflict with the installed probe tools, on a host PATH that holds no arping or ndisc6,
// and the installed ifacer on this kernel.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_PATHS } from '../lib/agent-api.ts';
import { clusterConfig } from '../cni/coordinator/testing/cluster-config.ts';
import { buildPlugins } from '../cni/build.ts';
import { FakeAgent } from '../cni/skel/testing/fake-agent.ts';
import { buildProbeTools } from '../cni/tools/build.ts';
import { repoRoot } from './cluster/install.ts';
import { addNetns, deleteNetns, execCommand, execInNetns, ip } from './kubelet/netns.ts';

const sfx = randomBytes(3).toString('hex');
const NODE = `dpi-${sfx}-node`;
const LAN = `dpi-${sfx}-lan`;
const POD = `dpi-${sfx}-pod`;
const OTHER = `dpi-${sfx}-other`;
/** The host tools the plugins use, and nothing else: the probes must come from the install. */
const HOST_TOOLS = ['ip', 'nsenter', 'sysctl', 'iptables', 'ip6tables'];

const cluster = clusterConfig({ mode: 'underlay', detectIPConflict: true, detectGateway: true });

describe('data plane as installed: install-cni.sh, the probe tools and ifacer', function () {
  this.timeout(300_000);
  let work: string;
  let bin: string;
  let path: string;
  let agent: FakeAgent;

  const plugin = (name: string, env: Record<string, string>, config: Record<string, unknown>) =>
    execInNetns(NODE, [join(bin, name)], {
      env: {
        PATH: path,
        CNI_CONTAINERID: `c${sfx}0123456789`,
        CNI_NETNS: `/var/run/netns/${POD}`,
        CNI_IFNAME: 'eth0',
        CNI_PATH: bin,
        CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=web-0;K8S_POD_UID=uid-1',
        ...env,
      },
      stdin: JSON.stringify({ cniVersion: '1.0.0', name: 'net', ...config }),
    });

  before(async () => {
    const built = await buildPlugins();
    const tools = buildProbeTools();
    work = mkdtempSync(join(tmpdir(), 'dataplane-install-'));
    const image = join(work, 'opt/spiderpool');
    mkdirSync(join(image, 'plugins'), { recursive: true });
    copyFileSync(join(repoRoot, 'scripts/install-cni.sh'), join(image, 'install-cni.sh'));
    for (const [name, b] of Object.entries(built)) copyFileSync(b.executable, join(image, 'plugins', name));
    copyFileSync(tools.tar, join(image, 'plugins/spiderpool-tools.tar'));
    bin = join(work, 'host/opt/cni/bin');
    mkdirSync(bin, { recursive: true });
    path = join(work, 'host/usr/sbin');
    mkdirSync(path, { recursive: true });
    for (const tool of HOST_TOOLS) {
      const found = ['/usr/sbin', '/usr/bin', '/sbin', '/bin'].map((d) => join(d, tool)).find((p) => existsSync(p));
      assert.ok(found, `${tool} is on this host`);
      symlinkSync(found, join(path, tool));
    }
    agent = await FakeAgent.start();
    agent.on(`GET ${AGENT_PATHS.coordinatorConfig}`, { status: 200, body: cluster });
    agent.on(`POST ${AGENT_PATHS.conflict}`, { status: 200, body: {} });
    for (const ns of [NODE, LAN, POD, OTHER]) await addNetns(ns);
    await ip(['-n', LAN, 'link', 'add', 'br0', 'type', 'bridge']);
    await ip(['-n', LAN, 'addr', 'add', '10.9.0.1/24', 'dev', 'br0']);
    await ip(['-n', LAN, 'link', 'set', 'br0', 'up']);
    for (const [ns, nic] of [
      [NODE, 'ens192'],
      [OTHER, 'eth0'],
    ] as const) {
      await ip(['link', 'add', nic, 'netns', ns, 'type', 'veth', 'peer', 'name', `to-${ns.slice(-5)}`, 'netns', LAN]);
      await ip(['-n', LAN, 'link', 'set', `to-${ns.slice(-5)}`, 'master', 'br0', 'up']);
      await ip(['-n', ns, 'link', 'set', nic, 'up']);
    }
    await ip(['-n', NODE, 'addr', 'add', '10.9.0.2/24', 'dev', 'ens192']);
    await ip(['-n', OTHER, 'addr', 'add', '10.9.0.50/24', 'dev', 'eth0']);
  });

  after(async () => {
    for (const ns of [POD, NODE, LAN, OTHER]) await deleteNetns(ns);
    await agent?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('install-cni.sh puts the three plugins and the tools in place, twice in a row, leaving nothing staged', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await execCommand('busybox', ['sh', join(work, 'opt/spiderpool/install-cni.sh'), bin]);
      assert.equal(r.code, 0, r.stderr);
    }
    assert.deepEqual(readdirSync(bin).sort(), ['coordinator', 'ifacer', 'spiderpool', 'spiderpool-tools']);
    assert.deepEqual(readdirSync(join(bin, 'spiderpool-tools')).sort(), ['SOURCES', 'arping', 'lib', 'ndisc6']);
  });

  it('the installed coordinator finds a conflict with the installed arping, on a host without it', async () => {
    assert.notEqual(
      (await execCommand('/bin/sh', ['-c', 'command -v arping ndisc6'], { env: { PATH: path } })).code,
      0,
      'no arping or ndisc6 on the PATH the plugins get',
    );
    await ip(['-n', NODE, 'link', 'add', 'eth0', 'link', 'ens192', 'type', 'macvlan', 'mode', 'bridge']);
    await ip(['-n', NODE, 'link', 'set', 'eth0', 'netns', POD]);
    await ip(['-n', POD, 'addr', 'add', '10.9.0.50/24', 'dev', 'eth0']);
    await ip(['-n', POD, 'link', 'set', 'eth0', 'up']);
    const otherMac = (JSON.parse(await ip(['-n', OTHER, '-j', 'link', 'show', 'eth0'])) as { address: string }[])[0]
      ?.address;
    const prevResult = {
      cniVersion: '1.0.0',
      interfaces: [{ name: 'eth0', sandbox: `/var/run/netns/${POD}` }],
      ips: [{ address: '10.9.0.50/24', gateway: '10.9.0.1', interface: 0 }],
    };
    const config = { type: 'coordinator', ipam_unix_socket_path: agent.socketPath, prevResult };
    const r = await plugin('coordinator', { CNI_COMMAND: 'ADD' }, config);
    assert.equal(r.code, 1, r.stdout);
    assert.match(
      (JSON.parse(r.stdout) as { msg: string }).msg,
      new RegExp(`IP 10\\.9\\.0\\.50 of interface eth0 is already in use by ${otherMac}`),
    );
    assert.deepEqual(agent.requests.find((q) => q.path === AGENT_PATHS.conflict)?.body, {
      podNamespace: 'ns1',
      podName: 'web-0',
      podUID: 'uid-1',
      ip: '10.9.0.50',
      mac: otherMac,
    });

    // The address freed on the segment, the same ADD passes both probes (the gateway is the bridge's address).
    await ip(['-n', OTHER, 'addr', 'del', '10.9.0.50/24', 'dev', 'eth0']);
    const ok = await plugin('coordinator', { CNI_COMMAND: 'ADD' }, config);
    assert.equal(ok.code, 0, ok.stdout);
  });

  it('the installed ifacer: one master without VLAN is a no-op; a VLAN fails on this kernel naming the missing driver', async () => {
    const version = await plugin('ifacer', { CNI_COMMAND: 'VERSION' }, {});
    assert.match(version.stdout, /"supportedVersions"/);
    const noop = await plugin('ifacer', { CNI_COMMAND: 'ADD' }, { type: 'ifacer', interfaces: ['ens192'] });
    assert.equal(noop.code, 0, noop.stdout);
    const vlan = await plugin(
      'ifacer',
      { CNI_COMMAND: 'ADD' },
      { type: 'ifacer', interfaces: ['ens192'], vlanID: 100 },
    );
    assert.equal(vlan.code, 1, vlan.stdout);
    assert.match(
      (JSON.parse(vlan.stdout) as { msg: string }).msg,
      /ip link add link ens192 name ens192\.100 type vlan id 100: .*\(the host kernel lacks the vlan or bonding driver\)/,
    );
    assert.equal(
      (await plugin('ifacer', { CNI_COMMAND: 'DEL' }, { type: 'ifacer', interfaces: ['ens192'], vlanID: 100 })).code,
      0,
    );
  });
});
