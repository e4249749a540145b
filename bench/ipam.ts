// npm run bench:ipam -- --pods 1000 --nodes 10 --ips 1000
// N simulated nodes, each with its own agent process (the bundle in dist/, as installed: `npm run build`
// first; its mean RSS idle and after the burst is reported), one shared pool of exactly --ips addresses, --pods
// concurrent ADDs sent over the agents' sockets exactly as the plugin sends them, then all DELs. The raw
// single-writer status rate of the same apiserver is measured in the same run, and the startup cost of
// the real plugin executable separately (p50 of 50 sequential ADD+DEL pairs). Last line: one JSON object.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import type { V1Pod } from '@kubernetes/client-node';
import type { SpiderEndpoint, SpiderIPPool } from '../api/v2beta1/types.ts';
import { ANNOTATION, GROUP, IPAM_PLUGIN_TYPE, VERSION } from '../api/v2beta1/constants.ts';
import { KINDS } from '../api/v2beta1/kinds.ts';
import type { IpamAddResponse } from '../lib/agent-api.ts';
import { formatIP, parseIP } from '../lib/ip/index.ts';
import { parseRecords } from '../ipam/records.ts';
import { callAgent, startAgents } from '../e2e/harness/agents.ts';
import { registerNode } from '../e2e/kubelet/node.ts';
import { inBatches } from '../e2e/harness/wait.ts';
import { buildPlugin } from '../cni/build.ts';
import { benchOptions, percentile, rssMB, say, withControlPlane } from './common.ts';
import { bundle, scrape } from './daemon.ts';
import { installedNodeFlags } from './installed.ts';

const { pods: PODS, nodes: NODES, ips: IPS } = benchOptions({ pods: 1000, nodes: 10, ips: 1000 });
const AGENT_BUNDLE = bundle('agent');
if (!existsSync(AGENT_BUNDLE)) throw new Error(`no ${AGENT_BUNDLE}: run \`npm run build\` first`);
const NAMESPACE = 'bench';

const TICKS_PER_SECOND = 100;
/** CPU seconds a process has used so far (user + system), from /proc. */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}
const processName = (pid: number) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim();

/** Sum of one counter (or a histogram's _count) over every agent's /metrics. */
async function agentCounter(ports: number[], name: string): Promise<number> {
  let total = 0;
  for (const port of ports) for (const s of await scrape(port)) if (s.name === name) total += s.value;
  return total;
}

/** Answers other than 200 by status and message (numbers and pod names folded), most frequent first. */
function tally(answers: { status: number; body: unknown }[]): string {
  const counts = new Map<string, number>();
  for (const a of answers.filter((x) => x.status !== 200)) {
    const message = typeof a.body === 'string' ? a.body : JSON.stringify(a.body);
    const key = `${a.status} ${message
      .replace(/pod-\d+/g, 'pod-N')
      .replace(/\d+/g, 'N')
      .slice(0, 200)}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return (
    [...counts]
      .sort((x, y) => y[1] - x[1])
      .map(([k, n]) => `${n} × ${k}`)
      .join('; ') || 'none'
  );
}

await withControlPlane(async ({ cp, kubeConfig, core, custom, stopFirst }) => {
  const nodes = Array.from({ length: NODES }, (_, i) => `bench-node-${i + 1}`);
  for (const n of nodes) await registerNode(kubeConfig, n);
  await core.createNamespace({ body: { metadata: { name: NAMESPACE } } });
  // Without the controller-manager nobody creates the default service account or its token.
  await core.createNamespacedServiceAccount({
    namespace: NAMESPACE,
    body: { metadata: { name: 'default' }, automountServiceAccountToken: false },
  });

  const first = parseIP('10.0.0.1').value;
  const pool = (name: string, count: number) =>
    custom.createClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: KINDS.SpiderIPPool.plural,
      body: {
        apiVersion: KINDS.SpiderIPPool.apiVersion,
        kind: KINDS.SpiderIPPool.kind,
        metadata: { name },
        spec: {
          subnet: '10.0.0.0/8',
          ipVersion: 4,
          ips: [`${formatIP(first, 4)}-${formatIP(first + BigInt(count - 1), 4)}`],
        },
      },
    });
  await pool('bench', IPS);
  await pool('raw-writes', 1);

  say('measuring the raw single-writer status write rate');
  const rawStart = Date.now();
  let rawWrites = 0;
  while (Date.now() - rawStart < 5000) {
    const p = (await custom.getClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: KINDS.SpiderIPPool.plural,
      name: 'raw-writes',
    })) as SpiderIPPool;
    await custom.replaceClusterCustomObjectStatus({
      group: GROUP,
      version: VERSION,
      plural: KINDS.SpiderIPPool.plural,
      name: 'raw-writes',
      body: { ...p, status: { allocatedIPCount: rawWrites % 2 } },
    });
    rawWrites++;
  }
  const rawWritesPerSecond = rawWrites / ((Date.now() - rawStart) / 1000);

  // Every allocated pod also needs its SpiderEndpoint created before the ADD answers, so the apiserver's
  // rate of creating such small objects, as concurrently as the agents do it, caps allocPerSecond.
  say('measuring the raw concurrent create rate of SpiderEndpoints');
  await core.createNamespace({ body: { metadata: { name: 'raw-creates' } } });
  const createStart = performance.now();
  await inBatches(
    Array.from({ length: Math.min(PODS, 500) }, (_, i) => i),
    10 * 16,
    (i) =>
      custom.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        plural: KINDS.SpiderEndpoint.plural,
        namespace: 'raw-creates',
        body: {
          apiVersion: KINDS.SpiderEndpoint.apiVersion,
          kind: KINDS.SpiderEndpoint.kind,
          metadata: { name: `se-${i}` },
          status: {
            current: {
              uid: `uid-${i}`,
              node: nodes[0]!,
              ips: [{ interface: 'eth0', ipv4: '10.0.0.1/8', ipv4Pool: 'bench', vlan: 0 }],
            },
            ownerControllerType: 'Pod',
            ownerControllerName: `se-${i}`,
          },
        },
      }),
  );
  const rawCreatesPerSecond = Math.min(PODS, 500) / ((performance.now() - createStart) / 1000);

  say(`creating ${PODS} pods`);
  const annotations = { [ANNOTATION.ippool]: '{"ipv4":["bench"]}' };
  const pods: V1Pod[] = await inBatches(
    Array.from({ length: PODS }, (_, i) => i),
    50,
    (i) =>
      core.createNamespacedPod({
        namespace: NAMESPACE,
        body: {
          metadata: { name: `pod-${i}`, annotations },
          spec: { nodeName: nodes[i % NODES]!, containers: [{ name: 'c', image: 'pause' }] },
        },
      }),
  );

  say(`starting ${NODES} agents from ${AGENT_BUNDLE}`);
  const agents = await startAgents(cp.kubeconfig, nodes, {}, [...installedNodeFlags('agent'), AGENT_BUNDLE]);
  stopFirst(agents.stop);
  const agentRss = () =>
    Math.round(agents.agents.reduce((n, a) => n + rssMB(a.process.pid ?? 0), 0) / agents.agents.length);
  await new Promise((r) => setTimeout(r, 5000));
  const agentIdleRssMB = agentRss();
  const socketOf = (i: number) => agents.agents[i % NODES]!.socket;
  const addArgs = (pod: V1Pod) => ({
    containerID: `ctr-${pod.metadata!.uid}`,
    ifName: 'eth0',
    netNamespace: `/var/run/netns/${pod.metadata!.name}`,
    podNamespace: NAMESPACE,
    podName: pod.metadata!.name,
    podUID: pod.metadata!.uid,
  });

  say('allocating');
  const watched = [
    ...cp.pids().map((pid) => ({ pid, name: processName(pid) })),
    ...agents.agents.map((a) => ({ pid: a.process.pid!, name: 'agents' })),
    { pid: process.pid, name: 'bench' },
  ];
  const cpuBefore = watched.map((w) => cpuSeconds(w.pid));
  const latencies: number[] = [];
  const allocStart = performance.now();
  const answers = await Promise.all(
    pods.map(async (pod, i) => {
      const t = performance.now();
      const r = await callAgent(socketOf(i), 'POST', '/v1/ipam/ip', addArgs(pod), 120_000).catch((e: Error) => ({
        status: 0,
        body: e.message,
      }));
      latencies.push(performance.now() - t);
      return r;
    }),
  );
  const allocSeconds = (performance.now() - allocStart) / 1000;
  const failures = answers.filter((a) => a.status !== 200).length;
  say(`ADD answers other than 200: ${tally(answers)}`);
  const addresses = answers.filter((a) => a.status === 200).map((a) => (a.body as IpamAddResponse).ips[0]?.address);
  const duplicates = addresses.length - new Set(addresses).size;
  latencies.sort((a, b) => a - b);
  const cpu = new Map<string, number>();
  watched.forEach((w, i) => cpu.set(w.name, (cpu.get(w.name) ?? 0) + cpuSeconds(w.pid) - cpuBefore[i]!));
  say(`CPU seconds during allocation: ${[...cpu].map(([name, s]) => `${name} ${s.toFixed(2)}`).join(', ')}`);
  const agentBurstRssMB = agentRss();
  say(`agent RSS, mean of ${NODES}: idle ${agentIdleRssMB} MB, after the burst ${agentBurstRssMB} MB`);
  const cpuMsPerAllocation = ([...cpu.values()].reduce((a, b) => a + b, 0) * 1000) / PODS;
  const ports = agents.agents.map((a) => a.metricsPort);
  const poolWrites = await agentCounter(ports, 'spiderpool_ipam_pool_write_batch_size_count');
  const conflicts = await agentCounter(ports, 'spiderpool_ipam_allocation_update_ippool_conflict_counts_total');
  say(`pool status writes: ${poolWrites}, conflicts: ${conflicts}`);

  say('releasing');
  await inBatches(pods, 100, (pod) =>
    core.deleteNamespacedPod({ namespace: NAMESPACE, name: pod.metadata!.name!, gracePeriodSeconds: 0 }),
  );
  const releaseCpuBefore = watched.map((w) => cpuSeconds(w.pid));
  const releaseStart = performance.now();
  const released = await Promise.all(
    pods.map((pod, i) =>
      callAgent(socketOf(i), 'DELETE', '/v1/ipam/ip', { ...addArgs(pod), netNamespace: undefined }, 120_000).catch(
        (e: Error) => ({ status: 0, body: e.message }),
      ),
    ),
  );
  const answeredSeconds = (performance.now() - releaseStart) / 1000;
  const releaseFailures = released.filter((r) => r.status !== 200).length;
  say(`DEL answers other than 200: ${tally(released)}`);
  // A release still refused when its DEL is answered goes on in its agent: release ends when the pool is empty.
  const releasedAfterAnswer = await agentCounter(ports, 'spiderpool_ipam_release_after_answer_counts_total');
  const readPool = async () =>
    (await custom.getClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: KINDS.SpiderIPPool.plural,
      name: 'bench',
    })) as SpiderIPPool;
  let after = await readPool();
  for (const giveUp = performance.now() + 60_000; releasedAfterAnswer > 0 && performance.now() < giveUp;) {
    if (parseRecords(after).size === 0) break;
    await new Promise((r) => setTimeout(r, 100));
    after = await readPool();
  }
  const releaseSeconds = (performance.now() - releaseStart) / 1000;
  say(`DELs answered in ${answeredSeconds.toFixed(2)} s; ${releasedAfterAnswer} releases went on after their answer`);
  const releaseCpu = new Map<string, number>();
  watched.forEach((w, i) =>
    releaseCpu.set(w.name, (releaseCpu.get(w.name) ?? 0) + cpuSeconds(w.pid) - releaseCpuBefore[i]!),
  );
  say(`CPU seconds during release: ${[...releaseCpu].map(([name, s]) => `${name} ${s.toFixed(2)}`).join(', ')}`);
  const releaseWrites = (await agentCounter(ports, 'spiderpool_ipam_pool_write_batch_size_count')) - poolWrites;
  const releaseConflicts = await agentCounter(ports, 'spiderpool_ipam_release_update_ippool_conflict_counts_total');
  say(`pool status writes during release: ${releaseWrites}, conflicts: ${releaseConflicts}`);

  const endpoints = (await custom.listNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    plural: KINDS.SpiderEndpoint.plural,
    namespace: NAMESPACE,
  })) as { items: SpiderEndpoint[] };
  const leaked = parseRecords(after).size + endpoints.items.length;
  if (leaked > 0) {
    const records = [...parseRecords(after)].map(([ip, r]) => `${ip} ${r.pod} ${r.podUid}`);
    say(`left behind: records ${records.slice(0, 10).join(', ') || 'none'}`);
    say(
      `left behind: endpoints ${
        endpoints.items
          .map((e) => e.metadata?.name)
          .slice(0, 10)
          .join(', ') || 'none'
      }`,
    );
  }

  say('timing the plugin executable');
  const plugin = await buildPlugin();
  const execTimes: number[] = [];
  for (let i = 0; i < 50; i++) {
    const pod = await core.createNamespacedPod({
      namespace: NAMESPACE,
      body: {
        metadata: { name: `exec-${i}`, annotations },
        spec: { nodeName: nodes[0]!, containers: [{ name: 'c', image: 'pause' }] },
      },
    });
    const config = JSON.stringify({
      cniVersion: '1.0.0',
      name: 'bench',
      type: 'macvlan',
      ipam: { type: IPAM_PLUGIN_TYPE, ipam_unix_socket_path: socketOf(0) },
    });
    const env = (command: string) => ({
      ...process.env,
      CNI_COMMAND: command,
      CNI_CONTAINERID: `ctr-${pod.metadata!.uid}`,
      CNI_NETNS: `/var/run/netns/exec-${i}`,
      CNI_IFNAME: 'eth0',
      CNI_PATH: '/opt/cni/bin',
      CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${NAMESPACE};K8S_POD_NAME=exec-${i};K8S_POD_UID=${pod.metadata!.uid}`,
    });
    const invoke = (command: string) =>
      new Promise<number>((resolve, reject) => {
        const t = performance.now();
        const child = execFile(plugin.executable, [], { env: env(command) }, (err) =>
          err ? reject(err) : resolve(performance.now() - t),
        );
        child.stdin?.end(config);
      });
    const addMs = await invoke('ADD');
    await core.deleteNamespacedPod({ namespace: NAMESPACE, name: `exec-${i}`, gracePeriodSeconds: 0 });
    execTimes.push(addMs + (await invoke('DEL')));
  }
  execTimes.sort((a, b) => a - b);

  say('timing plugin start (CNI_COMMAND=VERSION) against node -e 0');
  // The two are timed alternately, so that a drift in the machine's speed weighs on both alike.
  const startOnce = async (file: string, args: string[], env: NodeJS.ProcessEnv, expect: string) => {
    const t = performance.now();
    const out = await new Promise<string>((resolve, reject) =>
      execFile(file, args, { env }, (err, stdout) => (err ? reject(err) : resolve(stdout))).stdin?.end(
        '{"cniVersion":"1.0.0"}',
      ),
    );
    if (!out.includes(expect)) throw new Error(`${file} ${args.join(' ')} printed ${JSON.stringify(out)}`);
    return performance.now() - t;
  };
  const pluginStarts: number[] = [];
  const nodeStarts: number[] = [];
  for (let i = 0; i < 30; i++) {
    pluginStarts.push(await startOnce(plugin.executable, [], { CNI_COMMAND: 'VERSION' }, 'supportedVersions'));
    nodeStarts.push(await startOnce(process.execPath, ['-e', '0'], {}, ''));
  }
  const median = (times: number[]) =>
    percentile(
      times.sort((a, b) => a - b),
      50,
    );
  const pluginVersionMs = median(pluginStarts);
  const nodeBaselineMs = median(nodeStarts);

  const allocPerSecond = PODS / allocSeconds;
  const result = {
    pods: PODS,
    nodes: NODES,
    ips: IPS,
    allocSeconds: +allocSeconds.toFixed(3),
    allocPerSecond: +allocPerSecond.toFixed(1),
    p50Ms: +percentile(latencies, 50).toFixed(1),
    p99Ms: +percentile(latencies, 99).toFixed(1),
    releaseSeconds: +releaseSeconds.toFixed(3),
    releaseAnsweredSeconds: +answeredSeconds.toFixed(3),
    releasedAfterAnswer,
    rawWritesPerSecond: +rawWritesPerSecond.toFixed(1),
    ratio: +(allocPerSecond / rawWritesPerSecond).toFixed(2),
    rawCreatesPerSecond: +rawCreatesPerSecond.toFixed(1),
    ratioCeiling: +(rawCreatesPerSecond / rawWritesPerSecond).toFixed(2),
    pluginExecP50Ms: +percentile(execTimes, 50).toFixed(1),
    pluginVersionP50Ms: +pluginVersionMs.toFixed(1),
    nodeStartP50Ms: +nodeBaselineMs.toFixed(1),
    pluginStartRatio: +(pluginVersionMs / nodeBaselineMs).toFixed(2),
    cpuMsPerAllocation: +cpuMsPerAllocation.toFixed(2),
    agentRssMB: { idle: agentIdleRssMB, afterBurst: agentBurstRssMB },
    cpuSecondsDuringAllocation: Object.fromEntries([...cpu].map(([name, sec]) => [name, +sec.toFixed(2)])),
    cpuSecondsDuringRelease: Object.fromEntries([...releaseCpu].map(([name, sec]) => [name, +sec.toFixed(2)])),
    releaseWrites,
    releaseConflicts,
    allocPerCreateCeiling: +(allocPerSecond / rawCreatesPerSecond).toFixed(2),
    poolWrites,
    conflicts,
    duplicates,
    failures: failures + releaseFailures,
    releaseFailures,
    leaked,
  };
  say(
    `allocated ${PODS} addresses on ${NODES} nodes in ${result.allocSeconds} s (${result.allocPerSecond}/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms)`,
  );
  say(
    `released in ${result.releaseSeconds} s; raw status writes ${result.rawWritesPerSecond}/s; ratio ${result.ratio}; plugin ADD+DEL p50 ${result.pluginExecP50Ms} ms`,
  );
  say(
    `raw endpoint creates ${result.rawCreatesPerSecond}/s: no allocation rate that writes one endpoint per pod can pass a ratio of ${result.ratioCeiling}`,
  );
  process.stdout.write(`${JSON.stringify(result)}\n`);
});
