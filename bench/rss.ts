// Each daemon's resident memory when idle, run from its bundle (dist/, `npm run build` first) with plain
// node and from the TypeScript sources under tsx, against a control plane of its own with the CRDs
// installed and nothing to reconcile. The three daemons of one kind start together; once each answers
// /readyz it idles for --idle seconds, then its VmRSS is read.
//   npm run bench:rss -- --idle 15
// Last line: one JSON object.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INSTALL_NAMESPACE } from '../api/v2beta1/constants.ts';
import { freePort } from '../e2e/cluster/control-plane.ts';
import { repoRoot } from '../e2e/cluster/install.ts';
import { DAEMONS, type Daemon } from '../scripts/build.ts';
import { benchOptions, rssMB, say, withControlPlane } from './common.ts';
import { bundle, startDaemon } from './daemon.ts';
import { installedNodeFlags } from './installed.ts';

const { idle } = benchOptions({ idle: 15 });
const daemons = Object.keys(DAEMONS) as Daemon[];
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
  const running = await startDaemon(daemon, {
    kubeconfig,
    dir,
    readyPort: port,
    env,
    args: RUNS[run](daemon),
    cwd: run === 'tsx' ? repoRoot : dir,
  });
  try {
    await new Promise((r) => setTimeout(r, idle * 1000));
    return { readyMs: running.readyMs, rssMB: rssMB(running.child.pid ?? 0) };
  } finally {
    await running.stop();
  }
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
