// Runs the operator in the test process against a test cluster. Each run gets a Lease of its own, so
// operators of different tests never wait for each other's leadership.
import { randomBytes } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import { createLogger } from '../../lib/log.ts';
import { startOperator } from '../../operator/start.ts';
import type { OperatorOptions, ReconcilerFactory, RunningOperator } from '../../operator/runtime/types.ts';
import { eventually } from './wait.ts';

/**
 * Starts an operator with these reconcilers and returns once its caches have synced and it leads. Stop it
 * in an `after` hook. Logs go to stdout at LOG_LEVEL (default "warn").
 */
export async function runOperator(
  kubeConfig: KubeConfig,
  reconcilers: readonly ReconcilerFactory[],
  extra: Partial<OperatorOptions> = {},
): Promise<RunningOperator> {
  const operator = await startOperator({
    kubeConfig,
    reconcilers,
    leaseNamespace: 'kube-system',
    leaseName: `spiderpool-test-${randomBytes(4).toString('hex')}`,
    leaseDurationMs: 6_000,
    renewDeadlineMs: 4_000,
    retryPeriodMs: 1_000,
    log: createLogger('operator', process.env.LOG_LEVEL ?? 'warn'),
    ...extra,
  });
  try {
    await Promise.race([
      operator.waitForSync(),
      new Promise((_, reject) =>
        setTimeout(
          () => reject(new Error('operator caches not synced after 60 s (is a watched CRD missing?)')),
          60_000,
        ).unref(),
      ),
    ]);
    await eventually('the operator to lead', 30_000, async () => (operator.isLeader() ? true : undefined));
  } catch (err) {
    await operator.stop();
    throw err;
  }
  return operator;
}
