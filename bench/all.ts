// npm run bench: builds the bundles, runs every benchmark one after another (each on a control plane of its
// own) and prints one JSON object: `figures`, each figure next to the same-run baseline it is judged
// against and its target, and `runs`, every benchmark's own JSON line, so that two runs can be compared.
// Progress goes to stderr; the last line on stdout is the JSON object.
import { spawn } from 'node:child_process';
import { repoRoot } from '../scripts/build.ts';
import { say } from './common.ts';

type Json = Record<string, unknown>;

/** Runs a command in the repository, passing its stderr through; resolves with its last stdout line as JSON. */
function run(args: string[]): Promise<Json> {
  return new Promise((resolve, reject) => {
    say(`== ${args.join(' ')}`);
    const child = spawn(args[0] as string, args.slice(1), { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`${args.join(' ')} exited with ${code}`));
      const last = out.trim().split('\n').pop() ?? '';
      try {
        resolve(last.startsWith('{') ? (JSON.parse(last) as Json) : {});
      } catch (err) {
        reject(new Error(`${args.join(' ')} printed no JSON last line: ${last}`, { cause: err }));
      }
    });
  });
}

const tsx = (file: string, ...args: string[]) => run([process.execPath, '--import', 'tsx', file, ...args]);
const at = (o: unknown, ...path: string[]): unknown =>
  path.reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], o);

await run(['npm', 'run', '--silent', 'build']);
const webhooks = await tsx('bench/webhooks.ts', '--requests', '500', '--pools', '200', '--concurrency', '8');
const operator = await tsx('bench/operator.ts', '--pools', '1000');
const operatorUnadmitted = await tsx('bench/operator.ts', '--pools', '1000', '--unadmitted');
const ipam = await tsx('bench/ipam.ts', '--pods', '1000', '--nodes', '10', '--ips', '1000');
const rss = await tsx('bench/rss.ts');
const statusWrite = await tsx('bench/status-write.ts');

const e2e = (phase: string, q: string) => at(webhooks, 'endToEndMs', phase, q);
const figures = {
  poolCreateSequentialMs: {
    p50: e2e('poolSequential', 'p50'),
    p99: e2e('poolSequential', 'p99'),
    target: { p99: 15 },
    baseline: { apiserverAlone: at(webhooks, 'apiserverAloneMs', 'poolSequential'), quorumRead: webhooks.quorumReadMs },
  },
  podCreateSequentialMs: {
    p50: e2e('podSequential', 'p50'),
    p99: e2e('podSequential', 'p99'),
    target: { p99: 15 },
    baseline: { apiserverAlone: at(webhooks, 'apiserverAloneMs', 'podSequential') },
  },
  concurrentCreateP99Ms: {
    pool: e2e('poolConcurrent', 'p99'),
    pod: e2e('podConcurrent', 'p99'),
    concurrency: webhooks.concurrency,
    target: 40,
  },
  operatorRssMB: {
    afterReconcile: at(operator, 'afterReconcile', 'rssMB'),
    heapUsedMB: at(operator, 'afterReconcile', 'heapUsedMB'),
    target: 90,
    baseline: { processBeforeStart: at(operator, 'baseline', 'rssMB') },
  },
  agentRssMB: {
    idle: at(ipam, 'agentRssMB', 'idle'),
    afterBurst: at(ipam, 'agentRssMB', 'afterBurst'),
    target: 75,
    baseline: { spiderpoolGoAgentOnThisMachineKind: { idle: 54, afterBurst: 76 } },
  },
  daemonIdleRssMB: {
    agent: at(rss, 'agent', 'bundle', 'rssMB'),
    controller: at(rss, 'controller', 'bundle', 'rssMB'),
    webhooks: at(rss, 'webhooks', 'bundle', 'rssMB'),
    target: { agent: 75 },
    baseline: {
      underTsx: Object.fromEntries(['agent', 'controller', 'webhooks'].map((d) => [d, at(rss, d, 'tsx', 'rssMB')])),
    },
  },
  poolsReconciledFromColdStart: {
    pools: operator.pools,
    seconds: Number(operator.reconciledMs) / 1000,
    writesPerPool: operator.writesPerPool,
    target: { seconds: 2, writesPerPool: 1 },
    baseline: {
      initialListSeconds: Number(operator.syncMs) / 1000,
      rawStatusWritesSeconds: Number(operator.rawWritesMs) / 1000,
      unadmittedWritesPerPool: operatorUnadmitted.writesPerPool,
      unadmittedBound: 2,
    },
  },
  ipamBurst: {
    seconds: ipam.allocSeconds,
    p99Ms: ipam.p99Ms,
    releaseSeconds: ipam.releaseSeconds,
    target: { seconds: 2.5, p99Ms: 2500 },
    duplicates: ipam.duplicates,
    failures: ipam.failures,
    leaked: ipam.leaked,
  },
  cpuMsPerAllocation: { value: ipam.cpuMsPerAllocation, byProcess: ipam.cpuSecondsDuringAllocation, target: 4 },
  allocationRateOverCreateCeiling: {
    value: ipam.allocPerCreateCeiling,
    target: 0.7,
    baseline: { rawCreatesPerSecond: ipam.rawCreatesPerSecond, allocPerSecond: ipam.allocPerSecond },
  },
  statusWriteByRecords: { ...(statusWrite.byRecords as Json), limit: statusWrite.etcdDefaultMaxRequestBytes },
  pluginStartOverNode: {
    value: ipam.pluginStartRatio,
    target: 1.1,
    baseline: { pluginVersionP50Ms: ipam.pluginVersionP50Ms, nodeStartP50Ms: ipam.nodeStartP50Ms },
  },
};
process.stdout.write(
  `${JSON.stringify({ figures, runs: { webhooks, operator, operatorUnadmitted, ipam, rss, statusWrite } })}\n`,
);
