// What the benchmarks share: their command-line options, their control plane, progress lines and percentiles.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { loadKubeConfig } from '../lib/kube.ts';
import { type ControlPlane, startControlPlane } from '../e2e/cluster/control-plane.ts';
import { installCrds } from '../e2e/cluster/install.ts';
import { type Kubectl, kubectlFor } from '../e2e/cluster/kubectl.ts';

/**
 * The benchmark's options: `--name <number>` for each key of `numbers` (its value the default) and a
 * `--flag` for each of `flags`. Any other argument is an error.
 */
export function benchOptions<N extends string, F extends string = never>(
  numbers: Record<N, number>,
  flags: readonly F[] = [],
): Record<N, number> & Record<F, boolean> {
  const entries = Object.entries<number>(numbers);
  const options: Record<string, { type: 'string'; default: string } | { type: 'boolean'; default: boolean }> = {};
  for (const [name, value] of entries) options[name] = { type: 'string', default: String(value) };
  for (const name of flags) options[name] = { type: 'boolean', default: false };
  const values: Record<string, string | boolean | undefined> = parseArgs({ options }).values;
  return Object.fromEntries([
    ...entries.map(([name]) => [name, Number(values[name])]),
    ...flags.map((name) => [name, values[name] === true]),
  ]) as Record<N, number> & Record<F, boolean>;
}

/** A progress line, on stderr: stdout's last line is the benchmark's JSON result. */
export const say = (m: string) => process.stderr.write(`${m}\n`);

/** A process's resident memory in MB, from /proc. */
export const rssMB = (pid: number) =>
  Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024);

/** The p-th percentile of an ascending list, 0 for an empty one. */
export const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

export interface BenchCluster {
  cp: ControlPlane;
  kubectl: Kubectl;
  /** The same keep-alive client as the daemons', so a measured rate is the apiserver's, not the client's. */
  kubeConfig: KubeConfig;
  core: CoreV1Api;
  custom: CustomObjectsApi;
  /** Registers what must stop before the control plane does, such as the daemons the benchmark started. */
  stopFirst(stop: () => Promise<void>): void;
}

/**
 * Runs `bench` against a control plane of its own without controllers, with the CRDs installed, and stops
 * everything afterwards, whether it succeeded or not.
 */
export async function withControlPlane(bench: (cluster: BenchCluster) => Promise<void>): Promise<void> {
  const cp = await startControlPlane({ controllers: false });
  const stops: (() => Promise<void>)[] = [];
  try {
    const kubectl = kubectlFor(cp.binDir, cp.kubeconfig);
    await installCrds(kubectl);
    const kubeConfig = loadKubeConfig(cp.kubeconfig);
    await bench({
      cp,
      kubectl,
      kubeConfig,
      core: kubeConfig.makeApiClient(CoreV1Api),
      custom: kubeConfig.makeApiClient(CustomObjectsApi),
      stopFirst: (stop) => stops.push(stop),
    });
  } finally {
    for (const stop of stops.reverse()) await stop();
    await cp.stop();
  }
}
