// node --import tsx bench/operator.ts [--pools 1000] [--records 10000] [--unadmitted] [--semi-space MB]
// A control plane of its own, --pools SpiderIPPools holding --records allocation records in total in
// status.allocatedIPs (as the agents write them) and no counters yet. Each pool has the finalizer and the
// CIDR label, as the webhooks leave a pool at admission; --unadmitted creates them without, as a pool
// created while no webhook was registered. The operator runs in a child process of its own, bundled with
// esbuild and run on plain node as the daemons are installed, so its memory is its alone: it reports the time
// to its first full LIST (sync), to every pool reconciled, and to a forced full resync (relist plus a
// reconcile of every key), with RSS and heap after each. The parent counts the pool writes the apiserver
// served meanwhile (its apiserver_request_total) and checks every status. The operator runs with the node flags
// of the installed controller; --semi-space replaces them with V8's --max-semi-space-size of that many MB, to weigh
// a young generation of another size against its CPU. Last line: one JSON object.
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { DAEMON_BUNDLE } from '../scripts/build.ts';
import type { SpiderIPPool } from '../api/v2beta1/types.ts';
import { FINALIZER, GROUP, POOL_CIDR_LABEL, VERSION } from '../api/v2beta1/constants.ts';
import { KINDS } from '../api/v2beta1/kinds.ts';
import { cidrToLabelValue } from '../lib/ip/address.ts';
import { inBatches } from '../e2e/harness/wait.ts';
import type { Kubectl } from '../e2e/cluster/kubectl.ts';
import { benchOptions, say, withControlPlane } from './common.ts';
import { installedNodeFlags } from './installed.ts';
import type { ChildReport } from './operator-child.ts';

const {
  pools: POOLS,
  records: RECORDS,
  unadmitted: UNADMITTED,
  'semi-space': SEMI_SPACE_MB,
} = benchOptions({ pools: 1000, records: 10000, 'semi-space': 0 }, ['unadmitted']);
const NODE_FLAGS = SEMI_SPACE_MB > 0 ? [`--max-semi-space-size=${SEMI_SPACE_MB}`] : installedNodeFlags('controller');
const pools = { group: GROUP, version: VERSION, plural: KINDS.SpiderIPPool.plural };

/** PATCH and PUT requests on pools the apiserver has answered, by subresource ('' or 'status'). */
async function poolWrites(kubectl: Kubectl): Promise<Record<string, number>> {
  const { stdout, code, stderr } = await kubectl(['get', '--raw', '/metrics']);
  if (code !== 0) throw new Error(`reading the apiserver's metrics: ${stderr}`);
  const writes: Record<string, number> = { '': 0, status: 0 };
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('apiserver_request_total{') || !line.includes('resource="spiderippools"')) continue;
    if (!/verb="(PATCH|PUT|UPDATE)"/.test(line) || !line.includes('dry_run=""')) continue;
    const subresource = /subresource="([^"]*)"/.exec(line)?.[1] ?? '';
    writes[subresource] = (writes[subresource] ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return writes;
}

/** The operator side as one ES module, run on plain node without a TypeScript loader. */
async function bundleChild(dir: string): Promise<string> {
  const outfile = join(dir, 'operator-child.mjs');
  await build({
    ...DAEMON_BUNDLE,
    entryPoints: [fileURLToPath(new URL('./operator-child.ts', import.meta.url))],
    outfile,
  });
  return outfile;
}

async function parent(): Promise<void> {
  await withControlPlane(async ({ cp, custom, kubectl }) => {
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
            metadata: UNADMITTED
              ? { name }
              : {
                  name,
                  finalizers: [FINALIZER],
                  labels: { [POOL_CIDR_LABEL]: cidrToLabelValue(`10.${a}.${b}.0/24`) },
                },
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

    const dir = mkdtempSync(join(tmpdir(), 'bench-operator-'));
    let report: ChildReport;
    const writesBefore = await poolWrites(kubectl);
    try {
      const proc = fork(await bundleChild(dir), [String(POOLS)], {
        execArgv: ['--expose-gc', ...NODE_FLAGS],
        env: { ...process.env, KUBECONFIG: cp.kubeconfig },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      report = await new Promise<ChildReport>((resolve, reject) => {
        proc.once('message', (m) => resolve(m as ChildReport));
        proc.once('exit', (code) => reject(new Error(`the operator process exited with ${code} before reporting`)));
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const writesAfter = await poolWrites(kubectl);
    const writes = {
      metadata: (writesAfter[''] ?? 0) - (writesBefore[''] ?? 0),
      status: (writesAfter.status ?? 0) - (writesBefore.status ?? 0),
    };
    const writesPerPool = Math.round(((writes.metadata + writes.status) / POOLS) * 100) / 100;

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

    // The same-run baseline: the one status write each pool needs, made straight from here, 8 at a time, with
    // nothing computed. A cold start cannot beat its initial LIST plus these.
    const rawStarted = performance.now();
    await inBatches(items, 8, (pool) =>
      custom.replaceClusterCustomObjectStatus({
        ...pools,
        name: pool.metadata.name,
        body: { ...pool, status: { ...pool.status, totalIPCount: 0 } },
      }),
    );
    const rawWritesMs = Math.round(performance.now() - rawStarted);

    say(`initial LIST (caches synced)         ${report.syncMs} ms after start`);
    say(`every pool reconciled                ${report.reconciledMs} ms after start (${POOLS} pools)`);
    say(`baseline: ${POOLS} status writes      ${rawWritesMs} ms straight from the benchmark, 8 at a time`);
    say(
      `pool writes                          ${writes.metadata} metadata + ${writes.status} status = ${writesPerPool} per pool ` +
        `(bound: ${UNADMITTED ? 2 : 1}; a status write cannot carry metadata)`,
    );
    say(`forced full resync                   ${report.resyncMs} ms (relist + ${POOLS} reconciles, no writes)`);
    say(
      `operator process before start        RSS ${report.baseline.rssMB} MB, heap used ${report.baseline.heapUsedMB} MB (node + the bundle)`,
    );
    say(
      `operator memory after reconcile      RSS ${report.afterReconcile.rssMB} MB, heap used ${report.afterReconcile.heapUsedMB} ` +
        `of ${report.afterReconcile.heapTotalMB} MB, external ${report.afterReconcile.externalMB} MB`,
    );
    say(
      `operator memory after resync         RSS ${report.afterResync.rssMB} MB, heap used ${report.afterResync.heapUsedMB} MB`,
    );
    say(`statuses checked: all ${POOLS} pools right, ${records} allocations counted`);
    console.log(
      JSON.stringify({
        pools: POOLS,
        records: RECORDS,
        admitted: !UNADMITTED,
        nodeFlags: NODE_FLAGS,
        ...report,
        poolWrites: writes,
        writesPerPool,
        writesPerPoolBound: UNADMITTED ? 2 : 1,
        rawWritesMs,
      }),
    );
  });
}

await parent();
