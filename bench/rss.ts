// Each daemon's resident memory when idle, run from its bundle (dist/, `npm run build` first) with plain
// node and from the TypeScript sources under tsx, against a control plane of its own with the CRDs
// installed and nothing to reconcile. The three daemons of one kind start together; once each answers
// /readyz it idles for --idle seconds, then its VmRSS is read.
//   npm run bench:rss -- --idle 15
// Last line: one JSON object.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INSTALL_NAMESPACE } from '../api/v2beta1/constants.ts';
import { freePort } from '../e2e/cluster/control-plane.ts';
import { repoRoot } from '../e2e/cluster/install.ts';
import { eventually } from '../e2e/harness/wait.ts';
import { DAEMONS, distDir, type Daemon } from '../scripts/build.ts';
import { benchOptions, rssMB, say, withControlPlane } from './common.ts';
import { installedNodeFlags } from './installed.ts';

const { idle } = benchOptions({ idle: 15 });
const daemons = Object.keys(DAEMONS) as Daemon[];
const bundle = (daemon: Daemon) => join(distDir, `${daemon}.mjs`);
/** How each daemon is started: as the manifests start it, with source maps on top, and from the sources. */
const RUNS = {
  bundle: (daemon: Daemon) => [...installedNodeFlags(daemon), bundle(daemon)],
  bundleWithSourceMaps: (daemon: Daemon) => [...installedNodeFlags(daemon), '--enable-source-maps', bundle(daemon)],
  tsx: (daemon: Daemon) => ['--import', 'tsx', join(repoRoot, DAEMONS[daemon])],
};
type Run = keyof typeof RUNS;

interface Measured {
  readyMs: number;
  rssMB: number;
}

/** The daemon's settings for a private socket and free ports; `port` serves its /readyz. */
async function daemonEnv(daemon: Daemon, dir: string): Promise<{ port: number; env: Record<string, string> }> {
  const port = await freePort();
  switch (daemon) {
    case 'agent':
      return {
        port,
        env: {
          NODE_NAME: 'rss-node',
          SPIDERPOOL_AGENT_SOCKET: join(dir, 'agent.sock'),
          SPIDERPOOL_AGENT_METRICS_PORT: String(port),
        },
      };
    case 'controller':
      return { port, env: { OPERATOR_METRICS_PORT: String(port) } };
    case 'webhooks':
      return {
        port,
        env: {
          WEBHOOK_HOST: '127.0.0.1',
          WEBHOOK_PORT: String(await freePort()),
          WEBHOOK_METRICS_PORT: String(port),
          WEBHOOK_REGISTER: 'false',
        },
      };
  }
}

async function measure(run: Run, daemon: Daemon, kubeconfig: string, dir: string): Promise<Measured> {
  const { port, env } = await daemonEnv(daemon, dir);
  const logFile = join(dir, `${daemon}-${run}.log`);
  const fd = openSync(logFile, 'a');
  const started = Date.now();
  const child = spawn(process.execPath, RUNS[run](daemon), {
    // A bundle needs nothing from the repository, so it runs away from node_modules.
    cwd: run === 'tsx' ? repoRoot : dir,
    stdio: ['ignore', fd, fd],
    env: {
      ...process.env,
      NODE_OPTIONS: '',
      KUBECONFIG: kubeconfig,
      SPIDERPOOL_NAMESPACE: INSTALL_NAMESPACE,
      LOG_LEVEL: 'warn',
      ...env,
    },
  });
  closeSync(fd);
  try {
    await eventually(`${daemon} (${run}) ready`, 60_000, async () => {
      if (child.exitCode !== null) throw new Error(`${daemon} exited: ${readFileSync(logFile, 'utf8').slice(-2000)}`);
      const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
      return res?.status === 200 ? true : undefined;
    });
    const readyMs = Date.now() - started;
    await new Promise((r) => setTimeout(r, idle * 1000));
    return { readyMs, rssMB: rssMB(child.pid ?? 0) };
  } finally {
    await stop(child);
  }
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
  });
}

if (!daemons.every((d) => existsSync(bundle(d)))) {
  throw new Error('no bundles in dist/: run `npm run build` first');
}
const dir = mkdtempSync(join(tmpdir(), 'spiderpool-rss-'));
const results = Object.fromEntries(daemons.map((d) => [d, {}])) as Record<Daemon, Record<Run, Measured>>;
try {
  await withControlPlane(async ({ cp, core }) => {
    await core.createNamespace({ body: { metadata: { name: INSTALL_NAMESPACE } } });
    for (const run of Object.keys(RUNS) as Run[]) {
      await Promise.all(
        daemons.map(async (d) => {
          results[d][run] = await measure(run, d, cp.kubeconfig, dir);
        }),
      );
    }
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
for (const [daemon, r] of Object.entries(results)) {
  const figure = (m: Measured) => `${m.rssMB} MB (ready in ${m.readyMs} ms)`;
  say(
    `${daemon.padEnd(10)} RSS bundle ${figure(r.bundle)}, with --enable-source-maps ` +
      `${figure(r.bundleWithSourceMaps)}, tsx ${figure(r.tsx)}`,
  );
}
process.stdout.write(`${JSON.stringify({ idleSeconds: idle, ...results })}\n`);
