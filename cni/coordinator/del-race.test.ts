// A late DEL of a pod whose address was handed to a newer pod on the same node: the host route to that
// address in hostRuleTable now goes through the newer pod's veth and must survive the old pod's DEL.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { AGENT_PATHS } from '../../lib/agent-api.ts';
import { addNetns, deleteNetns, execInNetns, ip } from '../../e2e/kubelet/netns.ts';
import { buildPlugin } from '../build.ts';
import { FakeAgent } from '../skel/testing/fake-agent.ts';

const sfx = randomBytes(3).toString('hex');
const NODE = `cdr-${sfx}-node`;
const LAN = `cdr-${sfx}-lan`;
const OLD = { netns: `cdr-${sfx}-old`, cid: `a${sfx}0123456789abcdef` };
const NEW = { netns: `cdr-${sfx}-new`, cid: `b${sfx}0123456789abcdef` };
const ADDRESS = '10.6.212.10';
const hostVeth = (cid: string) => `veth${cid.slice(0, 11)}`;

describe('coordinator DEL of an old pod whose address a newer pod holds', function () {
  this.timeout(180_000);
  let bin: string;
  let agent: FakeAgent;

  const run = (command: string, pod: typeof OLD) =>
    execInNetns(NODE, [bin], {
      env: {
        PATH: process.env.PATH ?? '',
        CNI_COMMAND: command,
        CNI_CONTAINERID: pod.cid,
        CNI_NETNS: `/var/run/netns/${pod.netns}`,
        CNI_IFNAME: 'eth0',
        CNI_PATH: '/opt/cni/bin',
        CNI_ARGS: `K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=${pod.netns};K8S_POD_UID=${pod.cid}`,
      },
      stdin: JSON.stringify({
        cniVersion: '1.0.0',
        name: 'net',
        type: 'coordinator',
        mode: 'underlay',
        ipam_unix_socket_path: agent.socketPath,
        prevResult: {
          cniVersion: '1.0.0',
          interfaces: [{ name: 'eth0', sandbox: `/var/run/netns/${pod.netns}` }],
          ips: [{ address: `${ADDRESS}/16`, interface: 0 }],
        },
      }),
    });
  const table500 = async () => (await execInNetns(NODE, ['ip', 'route', 'show', 'table', '500'])).stdout;

  before(async () => {
    bin = (await buildPlugin('coordinator')).executable;
    agent = await FakeAgent.start();
    agent.on(`GET ${AGENT_PATHS.coordinatorConfig}`, {
      status: 404,
      body: { reason: 'CoordinatorNotFound', message: 'no SpiderCoordinator' },
    });
    for (const ns of [NODE, LAN, OLD.netns, NEW.netns]) await addNetns(ns);
    await ip(['link', 'add', 'ens192', 'netns', NODE, 'type', 'veth', 'peer', 'name', 'uplink', 'netns', LAN]);
    await ip(['-n', NODE, 'addr', 'add', '192.168.77.1/24', 'dev', 'ens192']);
    await ip(['-n', NODE, 'link', 'set', 'ens192', 'up']);
    for (const pod of [OLD, NEW]) {
      await ip(['-n', NODE, 'link', 'add', 'eth0', 'link', 'ens192', 'type', 'macvlan', 'mode', 'bridge']);
      await ip(['-n', NODE, 'link', 'set', 'eth0', 'netns', pod.netns]);
      await ip(['-n', pod.netns, 'addr', 'add', `${ADDRESS}/16`, 'dev', 'eth0']);
      await ip(['-n', pod.netns, 'link', 'set', 'eth0', 'up']);
    }
  });

  after(async () => {
    for (const ns of [OLD.netns, NEW.netns, NODE, LAN]) await deleteNetns(ns);
    await agent?.stop();
  });

  it("removes only the old pod's host route and veth, not the newer pod's route to the same address", async () => {
    for (const pod of [OLD, NEW]) {
      const r = await run('ADD', pod);
      assert.equal(r.code, 0, r.stdout + r.stderr);
    }
    assert.match(await table500(), new RegExp(`^${ADDRESS} dev ${hostVeth(NEW.cid)} scope link`, 'm'));

    const del = await run('DEL', OLD);
    assert.equal(del.code, 0, del.stdout + del.stderr);
    assert.equal(del.stdout, '');
    assert.notEqual((await execInNetns(NODE, ['ip', 'link', 'show', hostVeth(OLD.cid)])).code, 0, 'old veth deleted');
    assert.match(
      await table500(),
      new RegExp(`^${ADDRESS} dev ${hostVeth(NEW.cid)} scope link`, 'm'),
      "the newer pod's host route survives",
    );
  });
});
