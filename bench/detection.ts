// What conflict and gateway detection add to a coordinator ADD: p50 and p99 wall time of sequential ADDs of an
// underlay dual-stack eth0 in real network namespaces (a node, a segment whose bridge holds both gateways, a
// pod), with detection off, then on. The agent is a stand-in serving the coordinator config on a unix socket.
// Usage: npm run bench:detection -- [runs]
import { randomBytes } from 'node:crypto';
import { AGENT_PATHS } from '../lib/agent-api.ts';
import { clusterConfig } from '../cni/coordinator/testing/cluster-config.ts';
import { addNetns, deleteNetns, execInNetns, ip } from '../e2e/kubelet/netns.ts';
import { buildPlugin } from '../cni/build.ts';
import { FakeAgent } from '../cni/skel/testing/fake-agent.ts';
import { buildProbeTools } from '../cni/tools/build.ts';

const runs = Number(process.argv[2] ?? 50);
const sfx = randomBytes(3).toString('hex');
const [NODE, LAN, POD] = ['node', 'lan', 'pod'].map((n) => `cbd-${sfx}-${n}`) as [string, string, string];

const config = (detect: boolean) =>
  clusterConfig({
    mode: 'underlay',
    serviceCIDR: ['10.233.0.0/18'],
    detectIPConflict: detect,
    detectGateway: detect,
  });

const percentile = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;

buildProbeTools();
const bin = (await buildPlugin('coordinator')).executable;
const agent = await FakeAgent.start();
try {
  for (const ns of [NODE, LAN, POD]) await addNetns(ns);
  await ip(['-n', LAN, 'link', 'add', 'br0', 'type', 'bridge']);
  await ip(['-n', LAN, 'addr', 'add', '10.9.0.1/24', 'dev', 'br0']);
  await ip(['-n', LAN, 'addr', 'add', 'fd00:9::1/64', 'dev', 'br0', 'nodad']);
  await ip(['-n', LAN, 'link', 'set', 'br0', 'up']);
  await ip(['link', 'add', 'ens192', 'netns', NODE, 'type', 'veth', 'peer', 'name', 'uplink', 'netns', LAN]);
  await ip(['-n', LAN, 'link', 'set', 'uplink', 'master', 'br0', 'up']);
  await ip(['-n', NODE, 'addr', 'add', '10.9.0.2/24', 'dev', 'ens192']);
  await ip(['-n', NODE, 'link', 'set', 'ens192', 'up']);
  await ip(['-n', NODE, 'link', 'add', 'eth0', 'link', 'ens192', 'type', 'macvlan', 'mode', 'bridge']);
  await ip(['-n', NODE, 'link', 'set', 'eth0', 'netns', POD]);
  await ip(['-n', POD, 'addr', 'add', '10.9.0.10/24', 'dev', 'eth0']);
  await ip(['-n', POD, 'addr', 'add', 'fd00:9::10/64', 'dev', 'eth0', 'nodad']);
  await ip(['-n', POD, 'link', 'set', 'eth0', 'up']);
  const stdin = JSON.stringify({
    cniVersion: '1.0.0',
    name: 'net',
    type: 'coordinator',
    ipam_unix_socket_path: agent.socketPath,
    prevResult: {
      cniVersion: '1.0.0',
      interfaces: [{ name: 'eth0', sandbox: `/var/run/netns/${POD}` }],
      ips: [
        { address: '10.9.0.10/24', gateway: '10.9.0.1', interface: 0 },
        { address: 'fd00:9::10/64', gateway: 'fd00:9::1', interface: 0 },
      ],
    },
  });
  for (const detect of [false, true]) {
    agent.on(`GET ${AGENT_PATHS.coordinatorConfig}`, { status: 200, body: config(detect) });
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const started = process.hrtime.bigint();
      const r = await execInNetns(NODE, [bin], {
        env: {
          PATH: process.env.PATH ?? '',
          CNI_COMMAND: 'ADD',
          CNI_CONTAINERID: `c${sfx}0123456789`,
          CNI_NETNS: `/var/run/netns/${POD}`,
          CNI_IFNAME: 'eth0',
          CNI_PATH: '/opt/cni/bin',
          CNI_ARGS: 'K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=web-0;K8S_POD_UID=uid-1',
        },
        stdin,
      });
      times.push(Number(process.hrtime.bigint() - started) / 1e6);
      if (r.code !== 0) throw new Error(`ADD failed: ${r.stdout}${r.stderr}`);
    }
    times.sort((a, b) => a - b);
    process.stdout.write(
      `detection ${detect ? 'on ' : 'off'}  p50 ${percentile(times, 50).toFixed(0)} ms  p99 ${percentile(times, 99).toFixed(0)} ms  over ${runs} dual-stack ADDs\n`,
    );
  }
} finally {
  for (const ns of [POD, NODE, LAN]) await deleteNetns(ns);
  await agent.stop();
}
