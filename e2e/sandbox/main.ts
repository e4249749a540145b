// The sandbox: the product on an embedded local cluster. It runs in the foreground until interrupted;
// --detach runs it in the background and prints KUBECONFIG=<path> last; --stop tears it down.
// --quickstart NAME builds the cluster that quick-start document assumes (e2e/sandbox/quickstarts.ts).
// --real-node gives a real node with the product installed from deploy/ instead of simulated nodes and processes.
// --exec [NAMESPACE/]POD COMMAND… runs a command in a simulated pod's network namespace, where a real
// cluster would use `kubectl exec` (the simulated nodes run no containers).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { controlPlaneBinaries, type ControlPlane } from '../cluster/control-plane.ts';
import { kubectlFor, kubectlOk } from '../cluster/kubectl.ts';
import { podNetnsName } from '../kubelet/kubelet.ts';
import { startRealCluster } from '../realnode/cluster.ts';
import { agentSocketDir, clusterConflist, installProduct, type Installation } from '../realnode/install.ts';
import { DEFAULT_QUICKSTART, kubeadmConfig, quickstart, type Quickstart } from './quickstarts.ts';
import { fixturePath, startQuickstart } from './start.ts';

const stateDir = process.env.SPIDERPOOL_SANDBOX_DIR ?? join(tmpdir(), 'spiderpool-ts-sandbox');
const stateFile = join(stateDir, 'state.json');
const logFile = join(stateDir, 'sandbox.log');

// --real-node: one real node (containerd, kubelet, kube-proxy) with the product installed by `kubectl apply
// -k`, as e2e/install.test.ts does. Its own link and pod CIDR, so that it runs beside the tests' nodes.
const REAL_NODE = { name: 'sandbox', link: '192.168.253.12/30', podCidr: '10.251.0.0/24' };

interface State {
  pid: number;
  kubeconfig?: string;
  ready: boolean;
  quickstart?: string;
  /** Prefix of the simulated nodes' and pods' network namespaces (absent with --real-node). */
  netnsPrefix?: string;
}

const say = (message: string) => process.stdout.write(`${message}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

function readState(): State | undefined {
  try {
    return JSON.parse(readFileSync(stateFile, 'utf8')) as State;
  } catch {
    return undefined;
  }
}

function runningSandbox(): State | undefined {
  const state = readState();
  return state && alive(state.pid) ? state : undefined;
}

type Stop = () => Promise<void>;

/**
 * Runs one kind of sandbox in the foreground until a signal: `start` brings it up and registers what stops it;
 * every way out stops those in reverse order and removes the state file that `sandbox:stop` reads.
 */
async function runForeground(
  q: Quickstart,
  start: (stops: Stop[]) => Promise<{ cp: ControlPlane; tryCommand: string; netnsPrefix?: string }>,
) {
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(stateFile, JSON.stringify({ pid: process.pid, ready: false } satisfies State));
  const stops: Stop[] = [];
  let stopping = false;
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('sandbox: stopping');
    for (const stop of stops.reverse()) await stop();
    rmSync(stateFile, { force: true });
    say('sandbox: stopped');
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
  try {
    const { cp, tryCommand, netnsPrefix } = await start(stops);
    writeFileSync(
      stateFile,
      JSON.stringify({
        pid: process.pid,
        kubeconfig: cp.kubeconfig,
        ready: true,
        quickstart: q.name,
        netnsPrefix,
      } satisfies State),
    );
    say(`sandbox: ${q.title}`);
    say(`sandbox: ready; kubectl is in ${cp.binDir}; stop with Ctrl-C or npm run sandbox:stop`);
    say(`sandbox: try: ${tryCommand}`);
    say(`KUBECONFIG=${cp.kubeconfig}`);
  } catch (err) {
    process.stderr.write(`sandbox: failed: ${(err as Error).message}\n`);
    await shutdown(1);
  }
}

/** Stops a part of the sandbox, naming it if that fails. */
const stopping =
  (what: string, stop: () => Promise<unknown>): Stop =>
  () =>
    stop().then(
      () => undefined,
      (err: unknown) => void say(`sandbox: stopping ${what} failed: ${String(err)}`),
    );

const foreground = (q: Quickstart) =>
  runForeground(q, async (stops) => {
    const cluster = await startQuickstart(q, (m) => say(`sandbox: ${m}`));
    stops.push(stopping(`the ${q.name} cluster`, () => cluster.stop()));
    return { cp: cluster.cp, tryCommand: q.tryCommand, netnsPrefix: cluster.nodes.fabric.prefix };
  });

const foregroundRealNode = (q: Quickstart) =>
  runForeground(q, async (stops) => {
    say('sandbox: starting the control plane and a real node (the first run builds them, about 20 minutes)');
    const installed: { install?: Installation } = {};
    const cluster = await startRealCluster({
      ...REAL_NODE,
      cniConflist: clusterConflist(agentSocketDir(REAL_NODE.name)),
      log: (m) => say(`sandbox: ${m}`),
    });
    // The installation's directories go once the node that uses them has stopped.
    stops.push(
      stopping('the node', async () => {
        await cluster.stop();
        installed.install?.cleanup();
      }),
    );
    const { kubectl, cp, node } = cluster;
    say(`sandbox: node ${node.name} Ready (logs of containerd, kubelet and kube-proxy in ${join(node.dir, 'logs')})`);
    say(
      'sandbox: installing: npm run build, npm run image, ctr images import, kubectl apply -f crds/, kubectl apply -k',
    );
    installed.install = await installProduct(node, kubectl, (m) => say(`sandbox: ${m}`));
    say(`sandbox: installed from the kustomization in ${installed.install.overlay}`);
    await kubectlOk(kubectl, ['apply', '-f', '-'], { stdin: kubeadmConfig(q) });
    for (const f of q.fixtures) await kubectlOk(kubectl, ['apply', '-f', fixturePath(f)]);
    say(`sandbox: the document's objects applied (${q.fixtures.join(', ')})`);
    return {
      cp,
      tryCommand:
        'kubectl apply -f e2e/fixtures/calico-quickstart/nginx-deployment.yaml && kubectl get pods -o wide && kubectl -n spiderpool get pods',
    };
  });

async function detach(q: Quickstart): Promise<void> {
  mkdirSync(stateDir, { recursive: true });
  const out = openSync(logFile, 'w');
  const child = spawn(
    process.execPath,
    [...process.execArgv, process.argv[1] as string, ...(realNode ? ['--real-node'] : []), '--quickstart', q.name],
    {
      detached: true,
      stdio: ['ignore', out, out],
      env: process.env,
    },
  );
  child.unref();
  say(`sandbox: starting in the background (log: ${logFile})`);
  const deadline = Date.now() + 30 * 60_000;
  while (Date.now() < deadline) {
    await sleep(500);
    const state = readState();
    if (state && state.pid === child.pid && state.ready && state.kubeconfig) {
      say(`KUBECONFIG=${state.kubeconfig}`);
      return;
    }
    if (child.pid === undefined || !alive(child.pid) || child.exitCode !== null) {
      process.stderr.write(`sandbox: failed to start:\n${readFileSync(logFile, 'utf8')}\n`);
      process.exit(1);
    }
  }
  process.stderr.write('sandbox: not ready after 30 minutes\n');
  process.exit(1);
}

async function stop(): Promise<void> {
  const state = runningSandbox();
  if (!state) {
    rmSync(stateFile, { force: true });
    say('sandbox: not running');
    return;
  }
  process.kill(state.pid, 'SIGTERM');
  const deadline = Date.now() + 60_000;
  while (alive(state.pid) && Date.now() < deadline) await sleep(200);
  if (alive(state.pid)) {
    process.stderr.write(`sandbox: process ${state.pid} did not stop within 60 s\n`);
    process.exit(1);
  }
  say('sandbox: stopped');
}

async function execInPod(target: string | undefined, command: string[]): Promise<never> {
  const state = runningSandbox();
  if (!state?.kubeconfig || !state.netnsPrefix) {
    process.stderr.write('sandbox: --exec needs a running sandbox with simulated nodes\n');
    process.exit(1);
  }
  if (!target || command.length === 0) {
    process.stderr.write('sandbox: usage: --exec [NAMESPACE/]POD COMMAND [ARG…]\n');
    process.exit(2);
  }
  const [namespace, name] = target.includes('/') ? target.split('/', 2) : ['default', target];
  const kubectl = kubectlFor(await controlPlaneBinaries(), state.kubeconfig);
  const uid = await kubectlOk(kubectl, [
    '-n',
    namespace ?? '',
    'get',
    'pod',
    name ?? '',
    '-o',
    'jsonpath={.metadata.uid}',
  ]);
  const child = spawn('ip', ['netns', 'exec', podNetnsName(state.netnsPrefix, uid), ...command], { stdio: 'inherit' });
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
  process.exit(code);
}

const args = process.argv.slice(2);
if (args[0] === '--exec') await execInPod(args[1], args.slice(2));
const realNode = args.includes('--real-node');
const quickstartArg = args.includes('--quickstart') ? args[args.indexOf('--quickstart') + 1] : DEFAULT_QUICKSTART;
let q: Quickstart;
try {
  q = quickstart(quickstartArg ?? '');
  // The real node's network is seed 000's (realnode/install.ts); the other documents need simulated nodes.
  if (realNode && q.name !== DEFAULT_QUICKSTART)
    throw new Error(`--real-node runs only --quickstart ${DEFAULT_QUICKSTART}, not ${q.name}`);
} catch (err) {
  process.stderr.write(`sandbox: ${(err as Error).message}\n`);
  process.exit(2);
}
if (args.includes('--stop')) {
  await stop();
} else {
  const running = runningSandbox();
  if (running && running.pid !== process.pid) {
    process.stderr.write(
      `sandbox: already running (pid ${running.pid}${running.quickstart ? `, --quickstart ${running.quickstart}` : ''}${running.kubeconfig ? `, KUBECONFIG=${running.kubeconfig}` : ''}); stop it with npm run sandbox:stop\n`,
    );
    process.exit(1);
  }
  if (existsSync(stateFile)) rmSync(stateFile);
  await (args.includes('--detach') ? detach(q) : realNode ? foregroundRealNode(q) : foreground(q));
}
