// The control side of the product as real processes on this machine: the admission webhook server,
// registered with the apiserver by URL (there is no Service network), and operator replicas that elect one
// leader. Used by the sandbox.
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { CONTROLLER_NAME, GROUP, INSTALL_NAMESPACE, VERSION } from '../../api/v2beta1/constants.ts';
import { KINDS } from '../../api/v2beta1/kinds.ts';
import { isAlreadyExists } from '../../lib/kube.ts';
import { deleteWebhookConfigurations } from '../../webhooks/registration.ts';
import { freePort } from '../cluster/control-plane.ts';
import { repoRoot } from '../cluster/install.ts';
import type { DaemonGroup, DaemonProcess } from './processes.ts';
import { eventually } from './wait.ts';

export interface ProductProcess extends DaemonProcess {
  name: string;
  port: number;
}
export interface Controllers extends DaemonGroup {
  webhooks: ProductProcess;
  /** The webhook server's plain-HTTP /metrics port (WEBHOOK_METRICS_PORT). */
  webhooksMetricsPort: number;
  operators: ProductProcess[];
  /** Ends an operator replica with the signal (SIGKILL for a crash) and starts it again with its settings. */
  restartOperator(name: string, signal?: NodeJS.Signals): Promise<void>;
}

export interface ControllersOptions {
  kubeConfig: KubeConfig;
  kubeconfigPath: string;
  namespace?: string;
  operatorReplicas?: number;
  env?: Record<string, string>;
  /** On top of `env` for the operator replicas only (an installed identity the webhooks' URL registration lacks). */
  operatorEnv?: Record<string, string>;
}

function spawnProduct(
  dir: string,
  name: string,
  entry: string,
  port: number,
  env: Record<string, string>,
): ProductProcess {
  const logFile = join(dir, `${name}.log`);
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, entry)], {
    cwd: repoRoot,
    stdio: ['ignore', fd, fd],
    env: { ...process.env, ...env },
  });
  closeSync(fd);
  return { name, process: child, logFile, port };
}

const exitedWith = (p: ProductProcess) =>
  p.process.exitCode !== null
    ? new Error(`${p.name} exited: ${readFileSync(p.logFile, 'utf8').slice(-2000)}`)
    : undefined;

/** True once the apiserver sends pools through the validating webhook: an out-of-subnet range is refused. */
async function webhookAdmitsPools(kubeConfig: KubeConfig, process: ProductProcess): Promise<true | undefined> {
  const crash = exitedWith(process);
  if (crash) throw crash;
  const body = {
    apiVersion: KINDS.SpiderIPPool.apiVersion,
    kind: KINDS.SpiderIPPool.kind,
    metadata: { name: 'webhook-readiness-probe' },
    spec: { subnet: '10.250.0.0/24', ips: ['10.251.0.1'] },
  };
  try {
    await kubeConfig.makeApiClient(CustomObjectsApi).createClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: KINDS.SpiderIPPool.plural,
      body,
      dryRun: 'All',
    });
    return undefined;
  } catch {
    return true;
  }
}

async function operatorHealthy(p: ProductProcess): Promise<true | undefined> {
  const crash = exitedWith(p);
  if (crash) throw crash;
  const res = await fetch(`http://127.0.0.1:${p.port}/healthz`, { signal: AbortSignal.timeout(1000) }).catch(
    () => undefined,
  );
  return res?.status === 200 ? true : undefined;
}

export async function startControllers(options: ControllersOptions): Promise<Controllers> {
  const namespace = options.namespace ?? INSTALL_NAMESPACE;
  try {
    await options.kubeConfig.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }
  const dir = mkdtempSync(join(tmpdir(), 'spiderpool-controllers-'));
  const common = {
    KUBECONFIG: options.kubeconfigPath,
    SPIDERPOOL_NAMESPACE: namespace,
    LOG_LEVEL: 'info',
    ...options.env,
  };
  const started: ProductProcess[] = [];
  const stop = async () => {
    await Promise.all(
      started.map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.process.exitCode !== null || p.process.signalCode !== null) return resolve();
            p.process.once('exit', () => resolve());
            p.process.kill('SIGTERM');
            setTimeout(() => p.process.kill('SIGKILL'), 15_000).unref();
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
    // The webhook server registered itself by URL; left behind, the configurations would send every later
    // create on this apiserver to a port nothing listens on.
    await deleteWebhookConfigurations(options.kubeConfig, CONTROLLER_NAME).catch(() => undefined);
  };
  const killAll = () => {
    for (const p of started) p.process.kill('SIGKILL');
  };
  process.on('exit', killAll);
  try {
    const webhookPort = await freePort();
    const webhooksMetricsPort = await freePort();
    const webhooks = spawnProduct(dir, 'webhooks', 'webhooks/main.ts', webhookPort, {
      ...common,
      WEBHOOK_PORT: String(webhookPort),
      WEBHOOK_HOST: '127.0.0.1',
      WEBHOOK_URL_HOST: '127.0.0.1',
      // The default 5723 would collide with a second sandbox or a test run beside it.
      WEBHOOK_METRICS_PORT: String(webhooksMetricsPort),
    });
    started.push(webhooks);
    await eventually('the admission webhooks to be called by the apiserver', 60_000, () =>
      webhookAdmitsPools(options.kubeConfig, webhooks),
    );
    const operators: ProductProcess[] = [];
    const spawnOperator = (i: number, port: number) =>
      spawnProduct(dir, `operator-${i}`, 'operator/main.ts', port, {
        ...common,
        ...options.operatorEnv,
        OPERATOR_METRICS_PORT: String(port),
        SPIDERPOOL_POD_NAME: `spiderpool-controller-${i}`,
      });
    for (let i = 0; i < (options.operatorReplicas ?? 2); i++) {
      const operator = spawnOperator(i, await freePort());
      started.push(operator);
      operators.push(operator);
    }
    for (const operator of operators)
      await eventually(`${operator.name} to serve /healthz`, 60_000, () => operatorHealthy(operator));
    return {
      dir,
      webhooks,
      webhooksMetricsPort,
      operators,
      restartOperator: async (name, signal = 'SIGTERM') => {
        const i = operators.findIndex((o) => o.name === name);
        const old = operators[i];
        if (!old) throw new Error(`no operator ${name}`);
        if (old.process.exitCode === null && old.process.signalCode === null) {
          const exited = new Promise((r) => old.process.once('exit', r));
          old.process.kill(signal);
          await exited;
        }
        const next = spawnOperator(i, old.port);
        operators[i] = next;
        started[started.indexOf(old)] = next;
        await eventually(`${name} to serve /healthz again`, 60_000, () => operatorHealthy(next));
      },
      stop: async () => {
        process.off('exit', killAll);
        await stop();
      },
    };
  } catch (err) {
    process.off('exit', killAll);
    await stop();
    throw err;
  }
}
