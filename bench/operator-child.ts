// The operator side of bench/operator.ts, bundled and run in a process of its own so that its memory is
// the operator's alone: measures and sends one report to the parent. Argument: the number of pools.
import { loadKubeConfig } from '../lib/kube.ts';
import { createLogger } from '../lib/log.ts';
import { createIPPoolReconciler } from '../operator/ippool/reconciler.ts';
import { startOperator } from '../operator/start.ts';

const POOLS = Number(process.argv[2]);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const MB = 1024 * 1024;

interface Memory {
  rssMB: number;
  heapUsedMB: number;
  heapTotalMB: number;
  /** Memory of C++ objects bound to JavaScript ones, array buffers included. */
  externalMB: number;
}
export interface ChildReport {
  syncMs: number;
  reconciledMs: number;
  resyncMs: number;
  reconciles: number;
  baseline: Memory;
  afterReconcile: Memory;
  afterResync: Memory;
}

function memory(): Memory {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return {
    rssMB: Math.round(m.rss / MB),
    heapUsedMB: Math.round(m.heapUsed / MB),
    heapTotalMB: Math.round(m.heapTotal / MB),
    externalMB: Math.round(m.external / MB),
  };
}

async function child(): Promise<void> {
  const baseline = memory();
  const started = Date.now();
  const operator = await startOperator({
    kubeConfig: loadKubeConfig(process.env.KUBECONFIG),
    reconcilers: [createIPPoolReconciler],
    leaseNamespace: 'kube-system',
    resyncMs: 3_600_000,
    log: createLogger('operator', 'warn'),
  });
  const successes = async () =>
    (await operator.registry.getSingleMetric('spiderpool_controller_reconcile_total')!.get()).values
      .filter((v) => v.labels.result === 'success')
      .reduce((n, v) => n + v.value, 0);
  // Quiet means: no key queued or in progress for 500 ms in a row.
  const quiet = async (minimum: number) => {
    let since = 0;
    for (;;) {
      if (operator.isLeader() && operator.idle() && (await successes()) >= minimum) {
        since ||= Date.now();
        if (Date.now() - since >= 500) return since;
      } else {
        since = 0;
      }
      await sleep(20);
    }
  };
  await operator.waitForSync();
  const syncMs = Date.now() - started;
  const reconciledMs = (await quiet(POOLS)) - started;
  const afterReconcile = memory();
  const before = await successes();
  const resyncStarted = Date.now();
  await operator.resync();
  const resyncMs = (await quiet(before + POOLS)) - resyncStarted;
  const afterResync = memory();
  const report: ChildReport = {
    syncMs,
    reconciledMs,
    resyncMs,
    reconciles: await successes(),
    baseline,
    afterReconcile,
    afterResync,
  };
  await operator.stop();
  process.send!(report, () => process.exit(0));
}

await child();
