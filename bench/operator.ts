// node --import tsx bench/operator.ts [--pools 1000] [--records 10000]
// A control plane of its own, --pools SpiderIPPools holding --records allocation records in total in
// status.allocatedIPs (as the agents write them) and no counters, label or finalizer yet. The operator runs
// in a child process of its own, so its memory is its alone: it reports the time to its first full LIST
// (sync), to every pool reconciled, and to a forced full resync (relist plus a reconcile of every key),
// with RSS and heap after each. The parent then checks every status. Last line: one JSON object.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { SpiderIPPool } from '../api/v2beta1/types.ts';
import { FINALIZER, GROUP, POOL_CIDR_LABEL, VERSION } from '../api/v2beta1/constants.ts';
import { KINDS } from '../api/v2beta1/kinds.ts';
import { loadKubeConfig } from '../lib/kube.ts';
import { createLogger } from '../lib/log.ts';
import { inBatches } from '../e2e/harness/wait.ts';
import { createIPPoolReconciler } from '../operator/ippool/reconciler.ts';
import { startOperator } from '../operator/start.ts';
import { benchOptions, say, withControlPlane } from './common.ts';

const { pools: POOLS, records: RECORDS, child: isChild } = benchOptions({ pools: 1000, records: 10000 }, ['child']);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const pools = { group: GROUP, version: VERSION, plural: KINDS.SpiderIPPool.plural };
const MB = 1024 * 1024;

interface Memory {
  rssMB: number;
  heapUsedMB: number;
}
interface ChildReport {
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
  return { rssMB: Math.round(m.rss / MB), heapUsedMB: Math.round(m.heapUsed / MB) };
}

/** The operator side, in its own process: measures and sends one report to the parent. */
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

async function parent(): Promise<void> {
  await withControlPlane(async ({ cp, custom }) => {
    const perPool = Math.floor(RECORDS / POOLS);
    const setupStarted = Date.now();
    await inBatches(
      Array.from({ length: POOLS }, (_, i) => i),
      25,
      async (i) => {
        const [a, b] = [Math.floor(i / 250), i % 250];
        const name = `bench-${i}`;
        const created = (await custom.createClusterCustomObject({
          ...pools,
          body: {
            apiVersion: KINDS.SpiderIPPool.apiVersion,
            kind: KINDS.SpiderIPPool.kind,
            metadata: { name },
            spec: {
              ipVersion: 4,
              subnet: `10.${a}.${b}.0/24`,
              ips: [`10.${a}.${b}.1-10.${a}.${b}.254`],
              excludeIPs: [`10.${a}.${b}.200-10.${a}.${b}.209`],
            },
          },
        })) as SpiderIPPool;
        const extra = i < RECORDS - perPool * POOLS ? 1 : 0;
        const records = Object.fromEntries(
          Array.from({ length: perPool + extra }, (_, k) => [
            `10.${a}.${b}.${k + 1}`,
            { pod: `bench/pod-${i}-${k}`, podUid: `uid-${i}-${k}` },
          ]),
        );
        await custom.replaceClusterCustomObjectStatus({
          ...pools,
          name,
          body: { ...created, status: { allocatedIPs: JSON.stringify(records) } },
        });
      },
    );
    say(`created ${POOLS} pools with ${RECORDS} allocation records in ${Date.now() - setupStarted} ms`);

    const proc = fork(
      fileURLToPath(import.meta.url),
      ['--child', '--pools', String(POOLS), '--records', String(RECORDS)],
      {
        execArgv: ['--import', 'tsx', '--expose-gc'],
        env: { ...process.env, KUBECONFIG: cp.kubeconfig },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      },
    );
    const report = await new Promise<ChildReport>((resolve, reject) => {
      proc.once('message', (m) => resolve(m as ChildReport));
      proc.once('exit', (code) => reject(new Error(`the operator process exited with ${code} before reporting`)));
    });

    const items = ((await custom.listClusterCustomObject(pools)) as { items: SpiderIPPool[] }).items;
    const wrong = items.filter(
      (p) =>
        p.status?.totalIPCount !== 244 ||
        p.status?.allocatedIPCount !== Object.keys(JSON.parse(p.status?.allocatedIPs ?? '{}') as object).length ||
        !p.metadata.finalizers?.includes(FINALIZER) ||
        !p.metadata.labels?.[POOL_CIDR_LABEL],
    );
    const records = items.reduce((n, p) => n + (p.status?.allocatedIPCount ?? 0), 0);
    if (wrong.length || items.length !== POOLS || records !== RECORDS)
      throw new Error(`${wrong.length} pools with a wrong status, ${items.length} pools, ${records} records`);

    say(`initial LIST (caches synced)         ${report.syncMs} ms after start`);
    say(`every pool reconciled                ${report.reconciledMs} ms after start (${POOLS} pools, 2 writes each)`);
    say(`forced full resync                   ${report.resyncMs} ms (relist + ${POOLS} reconciles, no writes)`);
    say(
      `operator process before start        RSS ${report.baseline.rssMB} MB, heap used ${report.baseline.heapUsedMB} MB (node + tsx + modules)`,
    );
    say(
      `operator memory after reconcile      RSS ${report.afterReconcile.rssMB} MB, heap used ${report.afterReconcile.heapUsedMB} MB`,
    );
    say(
      `operator memory after resync         RSS ${report.afterResync.rssMB} MB, heap used ${report.afterResync.heapUsedMB} MB`,
    );
    say(`statuses checked: all ${POOLS} pools right, ${records} allocations counted`);
    console.log(JSON.stringify({ pools: POOLS, records: RECORDS, ...report }));
  });
}

if (isChild) await child();
else await parent();
