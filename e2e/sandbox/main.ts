// The sandbox: the product on an embedded local cluster. It runs in the foreground until interrupted;
// --detach runs it in the background and prints KUBECONFIG=<path> last; --stop tears it down. --real-node
// gives a real node with the product installed from deploy/ instead of simulated nodes and processes.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SERVICE_CIDR, startControlPlane, type ControlPlane } from '../cluster/control-plane.ts';
import { installCrds, repoRoot } from '../cluster/install.ts';
import { kubectlFor, kubectlOk } from '../cluster/kubectl.ts';
import { startControllers } from '../harness/controllers.ts';
import { startNodeSide } from '../harness/nodes.ts';
import { startRealCluster } from '../realnode/cluster.ts';
import { agentSocketDir, clusterConflist, installProduct, type Installation } from '../realnode/install.ts';
import { loadKubeConfig } from '../../lib/kube.ts';

const stateDir = process.env.SPIDERPOOL_SANDBOX_DIR ?? join(tmpdir(), 'spiderpool-ts-sandbox');
const stateFile = join(stateDir, 'state.json');
const logFile = join(stateDir, 'sandbox.log');

/** The quick-start objects every sandbox starts with. */
const FIXTURES = [
  'calico-quickstart/nginx-ippool-v4.yaml',
  'public-cloud-ipvlan/ipvlan-multusconfigs.yaml',
  'public-cloud-ipvlan/ippools.yaml',
  'macvlan-overlay/10-6-v4.yaml',
  'macvlan-overlay/macvlan-ens192.yaml',
];

const NODES = ['worker1', 'worker2'];

/** What a kubeadm cluster carries: the coordinator learns the pod and service CIDRs from it. */
const KUBEADM_CONFIG = `
apiVersion: v1
kind: ConfigMap
metadata:
  name: kubeadm-config
  namespace: kube-system
data:
  ClusterConfiguration: |
    apiVersion: kubeadm.k8s.io/v1beta2
    kind: ClusterConfiguration
    networking:
      podSubnet: 10.244.64.0/18
      serviceSubnet: ${SERVICE_CIDR}
`;

/** The `default` SpiderCoordinator, which the install step creates (deploy/product/default-coordinator.yaml). */
const DEFAULT_COORDINATOR = `
apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderCoordinator
metadata:
  name: default
spec:
  mode: auto
  podCIDRType: cluster
  tunePodRoutes: true
  hijackCIDR: [169.254.0.0/16]
`;

// --real-node: one real node (containerd, kubelet, kube-proxy) with the product installed by `kubectl apply
// -k`, as e2e/install.test.ts does. Its own link and pod CIDR, so that it runs beside the tests' nodes.
const REAL_NODE = { name: 'sandbox', link: '192.168.253.12/30', podCidr: '10.251.0.0/24' };

interface State {
  pid: number;
  kubeconfig?: string;
  ready: boolean;
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
async function runForeground(start: (stops: Stop[]) => Promise<{ cp: ControlPlane; tryCommand: string }>) {
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
    const { cp, tryCommand } = await start(stops);
    writeFileSync(
      stateFile,
      JSON.stringify({ pid: process.pid, kubeconfig: cp.kubeconfig, ready: true } satisfies State),
    );
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

const foreground = () =>
  runForeground(async (stops) => {
    say('sandbox: starting the control plane (the first run builds it, about 10 minutes)');
    const cp = await startControlPlane({ log: (m) => say(`sandbox: ${m}`) });
    stops.push(stopping('the control plane', () => cp.stop()));
    const kubectl = kubectlFor(cp.binDir, cp.kubeconfig);
    await installCrds(kubectl);
    say('sandbox: CRDs installed');
    const kubeConfig = loadKubeConfig(cp.kubeconfig);
    const controllers = await startControllers({ kubeConfig, kubeconfigPath: cp.kubeconfig });
    stops.push(stopping('the controllers', () => controllers.stop()));
    say(
      `sandbox: admission webhooks on 127.0.0.1:${controllers.webhooks.port}; ${controllers.operators.length} operator replicas ` +
        `(metrics on ${controllers.operators.map((o) => o.port).join(', ')}); logs in ${controllers.dir}`,
    );
    await kubectlOk(kubectl, ['apply', '-f', '-'], { stdin: KUBEADM_CONFIG + '---' + DEFAULT_COORDINATOR });
    for (const f of FIXTURES) await kubectlOk(kubectl, ['apply', '-f', join(repoRoot, 'e2e', 'fixtures', f)]);
    say(`sandbox: quick-start examples applied (${FIXTURES.length} files)`);
    const nodes = await startNodeSide({
      kubeConfig,
      kubeconfigPath: cp.kubeconfig,
      nodes: NODES,
      log: (m) => say(`sandbox: kubelet: ${m}`),
    });
    stops.push(stopping('the nodes', () => nodes.stop()));
    say(`sandbox: nodes ${NODES.join(', ')} ready, each with a spiderpool agent`);
    return {
      cp,
      tryCommand:
        'kubectl apply -f e2e/fixtures/calico-quickstart/nginx-deployment.yaml && kubectl get pods -o wide && kubectl get sp,se',
    };
  });

const foregroundRealNode = () =>
  runForeground(async (stops) => {
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
    await kubectlOk(kubectl, ['apply', '-f', '-'], { stdin: KUBEADM_CONFIG });
    for (const f of FIXTURES) await kubectlOk(kubectl, ['apply', '-f', join(repoRoot, 'e2e', 'fixtures', f)]);
    say(`sandbox: quick-start examples applied (${FIXTURES.length} files)`);
    return {
      cp,
      tryCommand:
        'kubectl apply -f e2e/fixtures/calico-quickstart/nginx-deployment.yaml && kubectl get pods -o wide && kubectl -n spiderpool get pods',
    };
  });

async function detach(): Promise<void> {
  mkdirSync(stateDir, { recursive: true });
  const out = openSync(logFile, 'w');
  const child = spawn(
    process.execPath,
    [...process.execArgv, process.argv[1] as string, ...(realNode ? ['--real-node'] : [])],
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

const args = process.argv.slice(2);
const realNode = args.includes('--real-node');
if (args.includes('--stop')) {
  await stop();
} else {
  const running = runningSandbox();
  if (running && running.pid !== process.pid) {
    process.stderr.write(
      `sandbox: already running (pid ${running.pid}${running.kubeconfig ? `, KUBECONFIG=${running.kubeconfig}` : ''}); stop it with npm run sandbox:stop\n`,
    );
    process.exit(1);
  }
  if (existsSync(stateFile)) rmSync(stateFile);
  await (args.includes('--detach') ? detach() : realNode ? foregroundRealNode() : foreground());
}
