// A daemon started the way the install starts it: its bundle from dist/ with the node flags of its manifest,
// in a process of its own, with its own log file; and what the benchmarks read from its plain-HTTP /metrics.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { INSTALL_NAMESPACE } from '../api/v2beta1/constants.ts';
import { eventually } from '../e2e/harness/wait.ts';
import { distDir, type Daemon } from '../scripts/build.ts';
import { installedNodeFlags } from './installed.ts';

export const bundle = (daemon: Daemon) => join(distDir, `${daemon}.mjs`);

export interface RunningDaemon {
  child: ChildProcess;
  /** Milliseconds from the spawn to the first 200 of /readyz. */
  readyMs: number;
  stop(): Promise<void>;
}

export interface DaemonOptions {
  kubeconfig: string;
  /** The directory of its log file and its working directory (a bundle needs nothing from the repository). */
  dir: string;
  /** The port of its /readyz. */
  readyPort: number;
  env: Record<string, string>;
  /** Node's arguments; the installed flags and the bundle by default. */
  args?: string[];
  cwd?: string;
}

/** Starts the daemon and resolves once its /readyz answers 200; a daemon that exits first fails with its log. */
export async function startDaemon(daemon: Daemon, options: DaemonOptions): Promise<RunningDaemon> {
  const logFile = join(options.dir, `${daemon}-${Date.now()}.log`);
  const fd = openSync(logFile, 'a');
  const started = Date.now();
  const child = spawn(process.execPath, options.args ?? [...installedNodeFlags(daemon), bundle(daemon)], {
    cwd: options.cwd ?? options.dir,
    stdio: ['ignore', fd, fd],
    env: {
      ...process.env,
      NODE_OPTIONS: '',
      KUBECONFIG: options.kubeconfig,
      SPIDERPOOL_NAMESPACE: INSTALL_NAMESPACE,
      LOG_LEVEL: 'warn',
      ...options.env,
    },
  });
  closeSync(fd);
  const stop = () => stopChild(child);
  try {
    await eventually(`${daemon} ready`, 60_000, async () => {
      if (child.exitCode !== null) throw new Error(`${daemon} exited: ${readFileSync(logFile, 'utf8').slice(-2000)}`);
      const res = await fetch(`http://127.0.0.1:${options.readyPort}/readyz`).catch(() => undefined);
      return res?.status === 200 ? true : undefined;
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { child, readyMs: Date.now() - started, stop };
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
  });
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Every sample on a daemon's plain-HTTP /metrics, in Prometheus' text format. */
export async function scrape(port: number): Promise<Sample[]> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      labels[key!] = value!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}
