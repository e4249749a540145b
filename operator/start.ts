// Runs one operator replica in this process: watch caches, leader election, reconcilers and metrics.
import { Registry, collectDefaultMetrics } from 'prom-client';
import { createLogger } from '../lib/log.ts';
import { serveMetrics } from './metrics.ts';
import { DEFAULT_LEASE_TIMINGS } from './runtime/leader.ts';
import { SpiderpoolOperator } from './runtime/operator.ts';
import type { OperatorOptions, RunningOperator } from './runtime/types.ts';

export const DEFAULT_LEASE_NAMESPACE = 'spiderpool';
export const DEFAULT_LEASE_NAME = 'spiderpool-controller';
export const DEFAULT_RESYNC_MS = 300_000;

export async function startOperator(options: OperatorOptions): Promise<RunningOperator> {
  const log = options.log ?? createLogger('spiderpool-controller');
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const operator = new SpiderpoolOperator({
    kubeConfig: options.kubeConfig,
    reconcilers: options.reconcilers,
    identity: options.identity,
    leaseNamespace: options.leaseNamespace ?? DEFAULT_LEASE_NAMESPACE,
    leaseName: options.leaseName ?? DEFAULT_LEASE_NAME,
    lease: {
      leaseDurationMs: options.leaseDurationMs ?? DEFAULT_LEASE_TIMINGS.leaseDurationMs,
      renewDeadlineMs: options.renewDeadlineMs ?? DEFAULT_LEASE_TIMINGS.renewDeadlineMs,
      retryPeriodMs: options.retryPeriodMs ?? DEFAULT_LEASE_TIMINGS.retryPeriodMs,
    },
    resyncMs: options.resyncMs ?? DEFAULT_RESYNC_MS,
    workers: options.workers ?? 3,
    optionalRetryMs: options.optionalRetryMs,
    log,
    registry,
  });
  await operator.start();
  const server = options.metricsPort === undefined ? undefined : await serveMetrics(registry, options.metricsPort, () => operator.hasSynced()).catch(async (err: unknown) => {
    await operator.stop();
    throw err;
  });
  return {
    registry,
    metricsPort: server?.port,
    identity: operator.identity,
    isLeader: () => operator.isLeader(),
    waitForSync: () => operator.waitForSync(),
    resync: () => operator.resync(),
    idle: () => operator.idle(),
    async stop() {
      await operator.stop();
      await server?.close();
    },
  };
}
