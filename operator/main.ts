// spiderpool-controller: the operator process. One replica leads (Lease `spiderpool-controller` in
// SPIDERPOOL_NAMESPACE) and runs the reconcilers; every replica keeps warm caches and serves /metrics.
//
// Environment: KUBECONFIG (else in-cluster), SPIDERPOOL_NAMESPACE (spiderpool), OPERATOR_METRICS_PORT
// (5721), LOG_LEVEL (info), SPIDERPOOL_POD_NAME (this replica's Lease identity; host name + pid if
// unset), SPIDERPOOL_LEADER_DURATION / _RENEW_DEADLINE / _RETRY_PERIOD in seconds (15 / 10 / 2),
// SPIDERPOOL_RESYNC_PERIOD in seconds (300), SPIDERPOOL_CONTROLLER_WORKERS per reconciler (3).
import { loadKubeConfig } from '../lib/kube.ts';
import { createLogger } from '../lib/log.ts';
import { reconcilers } from './reconcilers.ts';
import { startOperator } from './start.ts';
import type { RunningOperator } from './runtime/types.ts';

const log = createLogger('spiderpool-controller');

function number(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`environment variable ${name}: ${JSON.stringify(raw)} is not a non-negative number`);
  return value;
}

// The runtime keeps every failure inside its retry loops; anything that still escapes is logged, and the
// process keeps serving rather than restarting with cold caches.
process.on('unhandledRejection', (err) => log.error('unhandled rejection', { err: String(err) }));

let operator: RunningOperator | undefined;
let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) process.exit(1);
  stopping = true;
  log.info('shutting down', { signal });
  try {
    await operator?.stop();
    process.exit(0);
  } catch (err) {
    log.error('unclean shutdown', { err: String(err) });
    process.exit(1);
  }
};
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

try {
  operator = await startOperator({
    kubeConfig: loadKubeConfig(process.env.KUBECONFIG || undefined),
    reconcilers,
    identity: process.env.SPIDERPOOL_POD_NAME || undefined,
    leaseNamespace: process.env.SPIDERPOOL_NAMESPACE || 'spiderpool',
    metricsPort: number('OPERATOR_METRICS_PORT', 5721),
    leaseDurationMs: number('SPIDERPOOL_LEADER_DURATION', 15) * 1000,
    renewDeadlineMs: number('SPIDERPOOL_LEADER_RENEW_DEADLINE', 10) * 1000,
    retryPeriodMs: number('SPIDERPOOL_LEADER_RETRY_PERIOD', 2) * 1000,
    resyncMs: number('SPIDERPOOL_RESYNC_PERIOD', 300) * 1000,
    workers: number('SPIDERPOOL_CONTROLLER_WORKERS', 3),
    log,
  });
  log.info('controller ready', { identity: operator.identity, metricsPort: operator.metricsPort });
} catch (err) {
  log.error('controller failed to start', { err: err instanceof Error ? err.message : String(err) });
  process.exit(1);
}
