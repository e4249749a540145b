// A real Prometheus server (Debian's `prometheus`, installed by scripts/neighbours.sh) scraping the
// harness's daemons with the jobs of deploy/monitoring/prometheus-scrape.yaml. The harness has no pods to
// discover (its daemons are plain processes), so each job's `kubernetes_sd_configs` and the relabelling
// that reads its meta labels are replaced by static targets carrying the labels that relabelling would
// have set; everything else about the job is kept.
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { freePort } from '../cluster/control-plane.ts';
import { repoRoot } from '../cluster/install.ts';
import type { DaemonGroup, DaemonProcess } from './processes.ts';
import { eventually } from './wait.ts';

export const PROMETHEUS = '/usr/bin/prometheus';
export const PROMTOOL = '/usr/bin/promtool';
export const MONITORING_DIR = join(repoRoot, 'deploy', 'monitoring');
export const SCRAPE_CONFIG = join(MONITORING_DIR, 'prometheus-scrape.yaml');

export interface StaticTarget {
  /** host:port of the /metrics endpoint. */
  address: string;
  labels?: Record<string, string>;
}

interface ScrapeJob {
  job_name: string;
  [key: string]: unknown;
}

/** The documented jobs, each with its targets in place of service discovery; every job needs targets. */
export function scrapeConfigs(targets: Record<string, StaticTarget[]>, scrapeInterval?: string): ScrapeJob[] {
  const { scrape_configs: jobs } = parse(readFileSync(SCRAPE_CONFIG, 'utf8')) as { scrape_configs: ScrapeJob[] };
  const unknown = Object.keys(targets).filter((name) => !jobs.some((j) => j.job_name === name));
  if (unknown.length) throw new Error(`${SCRAPE_CONFIG} has no job ${unknown.join(', ')}`);
  return jobs.map(({ kubernetes_sd_configs: _sd, relabel_configs: _relabel, ...job }) => {
    const mine = targets[job.job_name];
    if (!mine?.length) throw new Error(`no targets for job ${job.job_name} of ${SCRAPE_CONFIG}`);
    return {
      ...job,
      ...(scrapeInterval ? { scrape_interval: scrapeInterval } : {}),
      static_configs: mine.map((t) => ({ targets: [t.address], labels: t.labels ?? {} })),
    };
  });
}

export interface PrometheusOptions {
  targets: Record<string, StaticTarget[]>;
  /** Rule files' contents by file name. */
  rules?: Record<string, string>;
  scrapeInterval?: string;
  evaluationInterval?: string;
}

export interface Sample {
  metric: Record<string, string>;
  value: number;
}

export interface ActiveAlert {
  labels: Record<string, string>;
  state: 'pending' | 'firing';
}

export interface RunningPrometheus extends DaemonGroup, DaemonProcess {
  url: string;
  /** An instant query; the result must be a vector. */
  query(expr: string): Promise<Sample[]>;
  alerts(): Promise<ActiveAlert[]>;
  /** Every target's job, instance and health. */
  targets(): Promise<{ job: string; instance: string; health: string; lastError: string }[]>;
}

async function api<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as { status: string; data: T; error?: string };
  if (body.status !== 'success') throw new Error(`${url}: ${body.error ?? res.status}`);
  return body.data;
}

export async function startPrometheus(options: PrometheusOptions): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'spiderpool-prometheus-'));
  const ruleFiles = Object.entries(options.rules ?? {}).map(([name, text]) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  });
  const config = {
    global: {
      scrape_interval: options.scrapeInterval ?? '1s',
      evaluation_interval: options.evaluationInterval ?? '1s',
    },
    rule_files: ruleFiles,
    scrape_configs: scrapeConfigs(options.targets, options.scrapeInterval ?? '1s'),
  };
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, stringify(config));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logFile = join(dir, 'prometheus.log');
  const fd = openSync(logFile, 'a');
  const child = spawn(
    PROMETHEUS,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  const kill = () => child.kill('SIGKILL');
  process.on('exit', kill);
  const stop = async () => {
    process.off('exit', kill);
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      setTimeout(kill, 10_000).unref();
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await eventually('Prometheus to be ready', 60_000, async () => {
      if (child.exitCode !== null) throw new Error(`prometheus exited: ${readFileSync(logFile, 'utf8').slice(-2000)}`);
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined);
      return res?.status === 200 ? true : undefined;
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    dir,
    process: child,
    logFile,
    url,
    stop,
    async query(expr) {
      const data = await api<{
        resultType: string;
        result: { metric: Record<string, string>; value: [number, string] }[];
      }>(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
      if (data.resultType !== 'vector') throw new Error(`${expr}: a ${data.resultType}, not a vector`);
      return data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    },
    async alerts() {
      return (await api<{ alerts: ActiveAlert[] }>(`${url}/api/v1/alerts`)).alerts;
    },
    async targets() {
      const data = await api<{
        activeTargets: { labels: Record<string, string>; health: string; lastError: string }[];
      }>(`${url}/api/v1/targets?state=active`);
      return data.activeTargets.map((t) => ({
        job: t.labels.job ?? '',
        instance: t.labels.instance ?? '',
        health: t.health,
        lastError: t.lastError,
      }));
    },
  };
}
