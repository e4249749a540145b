// node --import tsx bench/webhooks.ts -- --requests 500 --pools 200 --concurrency 8
// Admission latency of the real rules as the apiserver experiences it: a control plane of its own, the
// webhooks' bundle (dist/, `npm run build` first) in a process of its own with its manifest's node flags,
// registering itself by URL, --pools existing pools (created through the webhooks), then
// dry-run creates of pools and of pods that name a pool, sent through the apiserver one at a time and then
// --concurrency at a time. The same creates with the webhooks unregistered give the apiserver's own share,
// and the quorum LIST of the existing pools, next to a quorum LIST with limit=1, gives the cost of the one
// consistent read each pool check makes (docs/admission.md#consistent-reads).
// Server-side figures come from the latency histogram on the webhooks' /metrics. Last line: one JSON object.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ANNOTATION, CONTROLLER_NAME, FINALIZER, GROUP, INSTALL_NAMESPACE, VERSION } from '../api/v2beta1/constants.ts';
import { KINDS } from '../api/v2beta1/kinds.ts';
import { apiMessage } from '../lib/kube.ts';
import { freePort } from '../e2e/cluster/control-plane.ts';
import { ensureNamespace } from '../e2e/harness/webhooks.ts';
import { eventually, inBatches } from '../e2e/harness/wait.ts';
import { ListClient } from '../lib/watch/list.ts';
import { collectionPath } from '../lib/watch/kind.ts';
import { AdmittedWrites, HORIZON_MS } from '../webhooks/admitted-writes.ts';
import { deleteWebhookConfigurations } from '../webhooks/registration.ts';
import { POD_WEBHOOK_PATH } from '../webhooks/pod/index.ts';
import { benchOptions, percentile, say, withControlPlane } from './common.ts';
import { bundle, scrape, startDaemon } from './daemon.ts';

const {
  requests: REQUESTS,
  pools: POOLS,
  concurrency: CONCURRENCY,
} = benchOptions({ requests: 500, pools: 200, concurrency: 8 });
if (!existsSync(bundle('webhooks'))) throw new Error(`no ${bundle('webhooks')}: run \`npm run build\` first`);
const NAMESPACE = 'bench';
const POOL_PATH = '/validate-spiderpool-spidernet-io-v2beta1-spiderippool';
const POOL_MUTATE_PATH = '/mutate-spiderpool-spidernet-io-v2beta1-spiderippool';

const ms = (n: number) => Math.round(n * 100) / 100;

interface Figures {
  p50: number;
  p99: number;
  mean: number;
  perSecond: number;
}

async function measure(
  what: string,
  count: number,
  concurrency: number,
  call: (i: number) => Promise<void>,
): Promise<Figures> {
  const latencies: number[] = [];
  const start = performance.now();
  await inBatches(
    Array.from({ length: count }, (_, i) => i),
    concurrency,
    async (i) => {
      const t = performance.now();
      await call(i);
      latencies.push(performance.now() - t);
    },
  );
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const figures = {
    p50: ms(percentile(latencies, 50)),
    p99: ms(percentile(latencies, 99)),
    mean: ms(latencies.reduce((a, b) => a + b, 0) / latencies.length),
    perSecond: Math.round(count / seconds),
  };
  say(`${what}: p50 ${figures.p50} ms, p99 ${figures.p99} ms, mean ${figures.mean} ms, ${figures.perSecond}/s`);
  return figures;
}

/** Cumulative bucket counts of the server's latency histogram for one webhook path. */
async function buckets(metricsPort: number, webhook: string): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const s of await scrape(metricsPort))
    if (s.name === 'spiderpool_webhook_request_duration_seconds_bucket' && s.labels.webhook === webhook)
      out.set(s.labels.le === '+Inf' ? Infinity : Number(s.labels.le), s.value);
  return out;
}

/** How many pool and subnet lists the webhooks read, by source. */
async function poolReads(metricsPort: number): Promise<Record<string, number>> {
  const samples = await scrape(metricsPort);
  return Object.fromEntries(
    samples.filter((s) => s.name === 'spiderpool_webhook_pool_reads_total').map((s) => [s.labels.source, s.value]),
  );
}

/** histogram_quantile over the observations between two snapshots, in milliseconds. */
function quantile(before: Map<number, number>, after: Map<number, number>, q: number): number {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const counts = bounds.map((b) => (after.get(b) ?? 0) - (before.get(b) ?? 0));
  const total = counts[counts.length - 1] ?? 0;
  if (total === 0) return 0;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    if ((counts[i] as number) >= rank) {
      const upper = bounds[i] as number;
      const lower = i === 0 ? 0 : (bounds[i - 1] as number);
      if (upper === Infinity) return lower * 1000;
      const below = i === 0 ? 0 : (counts[i - 1] as number);
      const inBucket = (counts[i] as number) - below;
      return ms((lower + (upper - lower) * (inBucket === 0 ? 1 : (rank - below) / inBucket)) * 1000);
    }
  }
  return 0;
}

await withControlPlane(async ({ cp, kubectl, kubeConfig, core, custom, stopFirst }) => {
  const cluster = { cp, kubectl, kubeConfig };
  for (const ns of [NAMESPACE, INSTALL_NAMESPACE]) await ensureNamespace(cluster, ns);
  // Without the controller-manager nobody creates the default service account.
  await core.createNamespacedServiceAccount({
    namespace: NAMESPACE,
    body: { metadata: { name: 'default' }, automountServiceAccountToken: false },
  });

  say(`starting the webhooks from ${bundle('webhooks')}`);
  const dir = mkdtempSync(join(tmpdir(), 'spiderpool-bench-webhooks-'));
  const metricsPort = await freePort();
  const webhooks = await startDaemon('webhooks', {
    kubeconfig: cp.kubeconfig,
    dir,
    readyPort: metricsPort,
    env: {
      WEBHOOK_HOST: '127.0.0.1',
      WEBHOOK_PORT: String(await freePort()),
      WEBHOOK_METRICS_PORT: String(metricsPort),
      WEBHOOK_URL_HOST: '127.0.0.1',
    },
  });
  stopFirst(async () => {
    await webhooks.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const poolBody = (name: string, subnet: string) => ({
    apiVersion: KINDS.SpiderIPPool.apiVersion,
    kind: KINDS.SpiderIPPool.kind,
    metadata: { name },
    spec: { subnet, ips: [subnet.replace(/0\/24$/, '10-') + subnet.replace(/0\/24$/, '200')] },
  });
  const createPool = async (i: number, expectWebhook: boolean) => {
    // Dry run: nothing is stored, so every request sees the same POOLS existing pools.
    const subnet = `172.${16 + (Math.floor(i / 256) % 16)}.${i % 256}.0/24`;
    const pool = (await custom.createClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: KINDS.SpiderIPPool.plural,
      body: poolBody(`bench-${i}`, subnet),
      dryRun: 'All',
    })) as { metadata: { finalizers?: string[] } };
    if (expectWebhook !== Boolean(pool.metadata.finalizers?.includes(FINALIZER)))
      throw new Error(`pool bench-${i}: the webhooks were ${expectWebhook ? 'not ' : ''}applied`);
  };
  // Registration and its removal reach the apiserver's admission chain a moment after they are written.
  const untilWebhooks = (called: boolean) =>
    eventually(`the apiserver ${called ? 'calling' : 'no longer calling'} the webhooks`, 30_000, () =>
      createPool(0, called).then(
        () => true,
        () => undefined,
      ),
    );
  await untilWebhooks(true);
  say(`creating ${POOLS} pools through the webhooks`);
  const existingSubnet = (i: number) => `10.${Math.floor(i / 256)}.${i % 256}.0/24`;
  await inBatches(
    Array.from({ length: POOLS }, (_, i) => i),
    10,
    (i) =>
      custom.createClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: KINDS.SpiderIPPool.plural,
        body: poolBody(`pool-${i}`, existingSubnet(i)),
      }),
  );

  const createPod = async (i: number) => {
    await core.createNamespacedPod({
      namespace: NAMESPACE,
      dryRun: 'All',
      body: {
        metadata: {
          name: `pod-${i}`,
          annotations: { [ANNOTATION.ippool]: JSON.stringify({ ipv4: [`pool-${i % POOLS}`] }) },
        },
        spec: { containers: [{ name: 'c', image: 'pause' }] },
      },
    });
  };
  const guarded = (fn: (i: number) => Promise<void>) => async (i: number) => {
    try {
      await fn(i);
    } catch (err) {
      throw new Error(`request ${i}: ${apiMessage(err)}`, { cause: err });
    }
  };

  const server: Record<string, { p50: number; p99: number }> = {};
  const phase = async (
    label: string,
    count: number,
    concurrency: number,
    path: string,
    fn: (i: number) => Promise<void>,
  ) => {
    const before = await buckets(metricsPort, path);
    const e2e = await measure(label, count, concurrency, guarded(fn));
    const after = await buckets(metricsPort, path);
    server[label] = { p50: quantile(before, after, 0.5), p99: quantile(before, after, 0.99) };
    say(`  server side ${path}: p50 ${server[label].p50} ms, p99 ${server[label].p99} ms`);
    return e2e;
  };

  say('warming up');
  await inBatches(
    Array.from({ length: 50 }, (_, i) => i),
    5,
    async (i) => {
      await createPool(i, true);
      await createPod(i);
    },
  );

  // In a running cluster the record of admitted writes is older than its horizon; here it was just created.
  const admitted = new AdmittedWrites(kubeConfig, INSTALL_NAMESPACE);
  const recordAge = async () => Date.now() - ((await admitted.read())?.since ?? Date.now());
  const age = await recordAge();
  if (age < HORIZON_MS) {
    say(`waiting ${Math.ceil((HORIZON_MS - age) / 1000)} s for the record of admitted writes to be a horizon old`);
    await new Promise((r) => setTimeout(r, HORIZON_MS - age + 1000));
  }
  const readsBefore = await poolReads(metricsPort);

  const withWebhooks = {
    poolSequential: await phase('pool create, sequential', REQUESTS, 1, POOL_PATH, (i) => createPool(i, true)),
    podSequential: await phase('pod create, sequential', REQUESTS, 1, POD_WEBHOOK_PATH, createPod),
    poolConcurrent: await phase(`pool create, ${CONCURRENCY} concurrent`, REQUESTS, CONCURRENCY, POOL_PATH, (i) =>
      createPool(i, true),
    ),
    podConcurrent: await phase(
      `pod create, ${CONCURRENCY} concurrent`,
      REQUESTS,
      CONCURRENCY,
      POD_WEBHOOK_PATH,
      createPod,
    ),
  };
  const readsAfter = await poolReads(metricsPort);
  const poolListsRead = {
    fromCache: (readsAfter.cache ?? 0) - (readsBefore.cache ?? 0),
    fromApiserver: (readsAfter.apiserver ?? 0) - (readsBefore.apiserver ?? 0),
  };
  say(
    `pool and subnet lists read: ${poolListsRead.fromCache} from the proven caches, ${poolListsRead.fromApiserver} from the apiserver`,
  );
  const mutateServer = await buckets(metricsPort, POOL_MUTATE_PATH);
  say(
    `  server side ${POOL_MUTATE_PATH} over the whole run: p50 ${quantile(new Map(), mutateServer, 0.5)} ms, p99 ${quantile(new Map(), mutateServer, 0.99)} ms`,
  );

  say('stopping and unregistering the webhooks to measure the apiserver alone');
  await webhooks.stop();
  await deleteWebhookConfigurations(kubeConfig, CONTROLLER_NAME);
  await untilWebhooks(false);
  const withoutWebhooks = {
    poolSequential: await measure(
      'pool create without webhooks, sequential',
      REQUESTS,
      1,
      guarded((i) => createPool(i, false)),
    ),
    podSequential: await measure('pod create without webhooks, sequential', REQUESTS, 1, guarded(createPod)),
  };

  const lists = new ListClient(kubeConfig);
  const quorumList = (query: Record<string, string>) => async () =>
    void (await lists.page(collectionPath(KINDS.SpiderIPPool), query, AbortSignal.timeout(30_000)));
  const quorumReads = {
    [`list of ${POOLS} pools`]: await measure(`quorum LIST of ${POOLS} pools, sequential`, REQUESTS, 1, quorumList({})),
    'list with limit=1': await measure('quorum LIST with limit=1, sequential', REQUESTS, 1, quorumList({ limit: '1' })),
  };

  const result = {
    requests: REQUESTS,
    existingPools: POOLS,
    concurrency: CONCURRENCY,
    endToEndMs: withWebhooks,
    serverSideMs: server,
    apiserverAloneMs: withoutWebhooks,
    quorumReadMs: quorumReads,
    poolListsRead,
    admissionOverheadP50Ms: {
      pool: ms(withWebhooks.poolSequential.p50 - withoutWebhooks.poolSequential.p50),
      pod: ms(withWebhooks.podSequential.p50 - withoutWebhooks.podSequential.p50),
    },
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
});
