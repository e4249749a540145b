// A real Kubernetes control plane on loopback: etcd, kube-apiserver, kube-controller-manager and
// kube-scheduler, built from Debian's kubernetes source package by build.sh. Everything lives in one
// temporary directory that stop() removes.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, openSync, closeSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { stringify } from 'yaml';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));

export const SERVICE_CIDR = '10.233.0.0/18';
/** The `kubernetes` Service's ClusterIP, the first address of SERVICE_CIDR: pods reach the apiserver there. */
export const KUBERNETES_SERVICE_IP = '10.233.0.1';

export interface ControlPlane {
  /** The temporary directory holding certificates, etcd data, logs and the kubeconfig. */
  dir: string;
  kubeconfig: string;
  server: string;
  token: string;
  caFile: string;
  /** Directory holding kube-apiserver, kube-controller-manager, kube-scheduler and kubectl. */
  binDir: string;
  pids(): number[];
  stop(): Promise<void>;
}

interface Child {
  name: string;
  proc: ChildProcess;
  command: string;
  args: string[];
  exit?: string;
  /** Answers true once the component serves (etcd and kube-apiserver). */
  ready?: () => Promise<boolean>;
}

export type Component = 'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler';

export interface RestartOptions {
  /** How the running process is ended (default SIGTERM, then SIGKILL after 10 s; SIGKILL for a crash). */
  signal?: NodeJS.Signals;
  /** Time between the end of the old process and the start of the new one. */
  downMs?: number;
}

const restarters = new WeakMap<ControlPlane, (name: Component, options?: RestartOptions) => Promise<void>>();

/**
 * Restarts one component of a running control plane in place: same binary, flags, ports and data
 * directory. Resolves once etcd or kube-apiserver serves again. stop() also ends the new process.
 */
export async function restartComponent(cp: ControlPlane, name: Component, options?: RestartOptions): Promise<void> {
  const restart = restarters.get(cp);
  if (!restart) throw new Error('restartComponent needs a control plane made by startControlPlane in this process');
  await restart(name, options);
}

export interface StartOptions {
  /** Also run kube-controller-manager and kube-scheduler (default true). */
  controllers?: boolean;
  /**
   * An address of this host for kube-apiserver to listen on and advertise instead of 127.0.0.1, so that
   * a real node in its own network namespace reaches it (e2e/realnode). The apiserver then reaches
   * kubelets at their InternalIP (node names resolve nowhere) and webhooks at their endpoints' pod
   * addresses (this host has no Service routes).
   */
  address?: string;
  /**
   * Run the node lifecycle controller (default false). Real kubelets need it: it lifts the not-ready
   * taint admission puts on every new Node. Simulated nodes that renew no Lease would be evicted by it.
   */
  nodeLifecycle?: boolean;
  log?: (message: string) => void;
}

/** Runs build.sh (a no-op once the binaries are cached) and returns the directory of the binaries. */
export async function controlPlaneBinaries(): Promise<string> {
  const { stdout } = await run('bash', [join(here, 'build.sh')], { maxBuffer: 16 * 1024 * 1024 });
  const lines = stdout.trim().split('\n');
  const dir = lines[lines.length - 1];
  if (!dir) throw new Error('build.sh printed no binary directory');
  return dir;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

async function openssl(args: string[], cwd: string): Promise<void> {
  await run('openssl', args, { cwd });
}

async function makeCertificates(dir: string, address: string): Promise<void> {
  await openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '3650',
      '-subj',
      '/CN=spiderpool-ts-local-ca',
    ],
    dir,
  );
  const ips = [...new Set(['127.0.0.1', address, KUBERNETES_SERVICE_IP])].map((ip) => `IP:${ip}`).join(',');
  writeFileSync(
    join(dir, 'serving.ext'),
    `subjectAltName=${ips},DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n`,
  );
  await openssl(
    [
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'apiserver.key',
      '-out',
      'apiserver.csr',
      '-subj',
      '/CN=kube-apiserver',
    ],
    dir,
  );
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      'apiserver.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'apiserver.crt',
      '-days',
      '3650',
      '-extfile',
      'serving.ext',
    ],
    dir,
  );
  await openssl(['genrsa', '-out', 'sa.key', '2048'], dir);
  await openssl(['rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
}

function kubeconfigYaml(server: string, ca: string, token: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: 'spiderpool-ts', cluster: { server, 'certificate-authority-data': Buffer.from(ca).toString('base64') } },
    ],
    users: [{ name: 'admin', user: { token } }],
    contexts: [{ name: 'spiderpool-ts', context: { cluster: 'spiderpool-ts', user: 'admin', namespace: 'default' } }],
    'current-context': 'spiderpool-ts',
  });
}

async function waitFor(
  what: string,
  timeoutMs: number,
  probe: () => Promise<boolean>,
  exited: () => string | undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const died = exited();
    if (died) throw new Error(`${what} exited during start-up: ${died}`);
    if (await probe().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} not ready after ${timeoutMs} ms`);
}

function httpsOk(url: string, ca: string, token: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { ca, headers: { Authorization: `Bearer ${token}` }, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  return res.ok;
}

export async function startControlPlane(options: StartOptions = {}): Promise<ControlPlane> {
  const log = options.log ?? (() => undefined);
  const address = options.address ?? '127.0.0.1';
  const binDir = await controlPlaneBinaries();
  const dir = mkdtempSync(join(tmpdir(), 'spiderpool-cp-'));
  const logs = join(dir, 'logs');
  mkdirSync(logs);
  const children: Child[] = [];

  const startProcess = (name: string, command: string, args: string[]) => {
    const fd = openSync(join(logs, `${name}.log`), 'a');
    const proc = spawn(command, args, { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    const entry: Child = { name, proc, command, args };
    proc.on('exit', (code, signal) => {
      entry.exit = `code ${code} signal ${signal}`;
    });
    children.push(entry);
    return entry;
  };
  const lastLog = (name: string) =>
    readFileSync(join(logs, `${name}.log`), 'utf8')
      .split('\n')
      .slice(-15)
      .join('\n');
  // Last resort when the process ends without stop(): nothing may outlive it, files included.
  const killAll = () => {
    for (const c of children) if (c.exit === undefined) c.proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', killAll);

  const stop = async () => {
    process.off('exit', killAll);
    for (const c of [...children].reverse()) {
      if (c.exit !== undefined) continue;
      const exited = new Promise<void>((r) => c.proc.once('exit', () => r()));
      c.proc.kill('SIGTERM');
      const timer = setTimeout(() => c.proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
    log('control plane stopped');
  };

  try {
    await makeCertificates(dir, address);
    const ca = readFileSync(join(dir, 'ca.crt'), 'utf8');
    const token = randomBytes(24).toString('hex');
    writeFileSync(join(dir, 'tokens.csv'), `${token},admin,admin,system:masters\n`);
    // A port found free can be taken by another process before the component binds it; then the
    // component exits with "address already in use" and is started again on fresh ports.
    const startOnFreePorts = async <T>(what: string, attempt: () => Promise<T>): Promise<T> => {
      for (let tries = 1; ; tries++) {
        try {
          return await attempt();
        } catch (err) {
          if (tries >= 5 || !/address already in use/.test(String(err))) throw err;
          log(`${what}: port taken, retrying`);
        }
      }
    };

    const etcdPort = await startOnFreePorts('etcd', async () => {
      const [port, peerPort] = [await freePort(), await freePort()];
      rmSync(join(dir, 'etcd'), { recursive: true, force: true });
      const etcd = startProcess('etcd', 'etcd', [
        '--name',
        'spiderpool-ts',
        '--data-dir',
        join(dir, 'etcd'),
        '--listen-client-urls',
        `http://127.0.0.1:${port}`,
        '--advertise-client-urls',
        `http://127.0.0.1:${port}`,
        '--listen-peer-urls',
        `http://127.0.0.1:${peerPort}`,
        '--initial-advertise-peer-urls',
        `http://127.0.0.1:${peerPort}`,
        '--initial-cluster',
        `spiderpool-ts=http://127.0.0.1:${peerPort}`,
        '--unsafe-no-fsync',
        '--log-level',
        'warn',
      ]);
      etcd.ready = () => httpOk(`http://127.0.0.1:${port}/health`);
      await waitFor('etcd', 30_000, etcd.ready, () => etcd.exit && `${etcd.exit}\n${lastLog('etcd')}`);
      return port;
    });
    log(`etcd ready on 127.0.0.1:${etcdPort}`);

    const server = await startOnFreePorts('kube-apiserver', async () => {
      const port = await freePort();
      const url = `https://${address}:${port}`;
      const apiserver = startProcess('kube-apiserver', join(binDir, 'kube-apiserver'), [
        '--etcd-servers',
        `http://127.0.0.1:${etcdPort}`,
        '--advertise-address',
        address,
        '--bind-address',
        address,
        '--secure-port',
        String(port),
        '--insecure-port',
        '0',
        '--tls-cert-file',
        join(dir, 'apiserver.crt'),
        '--tls-private-key-file',
        join(dir, 'apiserver.key'),
        '--token-auth-file',
        join(dir, 'tokens.csv'),
        '--authorization-mode',
        'RBAC',
        '--service-account-issuer',
        'https://kubernetes.default.svc.cluster.local',
        '--service-account-key-file',
        join(dir, 'sa.pub'),
        '--service-account-signing-key-file',
        join(dir, 'sa.key'),
        '--service-cluster-ip-range',
        SERVICE_CIDR,
        '--allow-privileged=true',
        '--profiling=false',
        ...(options.address
          ? ['--kubelet-preferred-address-types', 'InternalIP', '--enable-aggregator-routing=true']
          : []),
      ]);
      apiserver.ready = () => httpsOk(`${url}/readyz`, ca, token);
      await waitFor(
        'kube-apiserver',
        90_000,
        apiserver.ready,
        () => apiserver.exit && `${apiserver.exit}\n${lastLog('kube-apiserver')}`,
      );
      return url;
    });
    log(`kube-apiserver ready at ${server}`);

    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, kubeconfigYaml(server, ca, token), { mode: 0o600 });

    if (options.controllers ?? true) {
      // Each runs as the only instance and nothing connects to it: no leader election, no serving ports.
      const clientArgs = ['--kubeconfig', kubeconfig, '--leader-elect=false', '--port', '0', '--secure-port', '0'];
      startProcess('kube-controller-manager', join(binDir, 'kube-controller-manager'), [
        ...clientArgs,
        '--service-account-private-key-file',
        join(dir, 'sa.key'),
        '--root-ca-file',
        join(dir, 'ca.crt'),
        // nodeipam needs a cluster CIDR and nodelifecycle would evict pods of nodes without a real kubelet.
        '--controllers',
        options.nodeLifecycle ? '*,-nodeipam' : '*,-nodeipam,-nodelifecycle',
        '--use-service-account-credentials=false',
      ]);
      startProcess('kube-scheduler', join(binDir, 'kube-scheduler'), clientArgs);
    }

    const cp: ControlPlane = {
      dir,
      kubeconfig,
      server,
      token,
      binDir,
      caFile: join(dir, 'ca.crt'),
      pids: () =>
        children.filter((c) => c.exit === undefined && c.proc.pid !== undefined).map((c) => c.proc.pid as number),
      stop,
    };
    restarters.set(cp, async (name, { signal = 'SIGTERM', downMs = 0 } = {}) => {
      const current = children.filter((c) => c.name === name && c.exit === undefined).at(-1);
      if (!current) throw new Error(`${name} is not running in this control plane`);
      const exited = new Promise<void>((r) => current.proc.once('exit', () => r()));
      current.proc.kill(signal);
      // kube-apiserver 1.20 can linger in graceful shutdown with its port already closed.
      const timer = setTimeout(() => current.proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      log(`${name} stopped (${signal})`);
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      const next = startProcess(name, current.command, current.args);
      next.ready = current.ready;
      if (next.ready) await waitFor(name, 90_000, next.ready, () => next.exit && `${next.exit}\n${lastLog(name)}`);
      log(`${name} restarted`);
    });
    return cp;
  } catch (err) {
    await stop();
    throw err;
  }
}
