// Pool and subnet checks read caches only when the record of admitted writes proves them current
// (docs/admission.md#consistent-reads), on the real apiserver: the webhooks note each pool write before they
// answer, a frozen cache that misses a noted write is passed over for the apiserver, a live one is used, and a
// pool created right after an overlapping one is refused every time.
import assert from 'node:assert/strict';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { GROUP, INSTALL_NAMESPACE, VERSION } from '../api/v2beta1/constants.ts';
import { KINDS } from '../api/v2beta1/kinds.ts';
import type { SpiderIPPool, SpiderSubnet } from '../api/v2beta1/types.ts';
import { apiMessage } from '../lib/kube.ts';
import { createLogger } from '../lib/log.ts';
import { Informer } from '../lib/watch/informer.ts';
import { ADMITTED_WRITES_CONFIGMAP, AdmittedWrites, parseRecord } from '../webhooks/admitted-writes.ts';
import { createClusterView } from '../webhooks/cluster-view.ts';
import { type ReadSource, createProvenView } from '../webhooks/proven-view.ts';
import { crdRoutes } from '../webhooks/rules/index.ts';
import { testCluster, type TestCluster } from './harness/cluster.ts';
import { eventually } from './harness/wait.ts';
import { runWebhooks, type RunningWebhooks } from './harness/webhooks.ts';

const PREFIX = 'proven-';
/** A short horizon, so that the record can vouch for caches without the test waiting 30 s for it to age. */
const HORIZON_MS = 2_000;
const pool = (name: string, subnet: string, ips: string) => ({
  apiVersion: KINDS.SpiderIPPool.apiVersion,
  kind: KINDS.SpiderIPPool.kind,
  metadata: { name: `${PREFIX}${name}` },
  spec: { subnet, ips: [ips] },
});

describe('pool checks from caches proven by the record of admitted writes', function () {
  this.timeout(180_000);
  let c: TestCluster;
  let hooks: RunningWebhooks;
  let custom: CustomObjectsApi;
  const informers: Informer[] = [];
  const resource = { group: GROUP, version: VERSION, plural: KINDS.SpiderIPPool.plural };

  const create = async (body: ReturnType<typeof pool>) =>
    (await custom.createClusterCustomObject({ ...resource, body })) as SpiderIPPool;
  const removeAll = async () => {
    const { items } = (await custom.listClusterCustomObject(resource)) as { items: SpiderIPPool[] };
    for (const p of items.filter((i) => i.metadata.name.startsWith(PREFIX))) {
      await custom.deleteClusterCustomObject({ ...resource, name: p.metadata.name }).catch(() => undefined);
      await custom
        .patchClusterCustomObject({
          ...resource,
          name: p.metadata.name,
          body: [{ op: 'remove', path: '/metadata/finalizers' }],
        })
        .catch(() => undefined);
    }
  };
  const started = async <T extends SpiderIPPool | SpiderSubnet>(
    kind: typeof KINDS.SpiderIPPool | typeof KINDS.SpiderSubnet,
  ) => {
    const informer = new Informer<T>({ kind, kubeConfig: c.kubeConfig, log: createLogger('test', 'warn') });
    informers.push(informer as unknown as Informer);
    informer.start();
    await informer.waitForSync();
    return informer;
  };

  const recordAged = () =>
    eventually('the record to be older than the horizon', 10_000, async () => {
      const record = await new AdmittedWrites(c.kubeConfig, INSTALL_NAMESPACE).read();
      return record && Date.now() - record.since >= HORIZON_MS ? true : undefined;
    });

  before(async () => {
    c = await testCluster();
    custom = c.kubeConfig.makeApiClient(CustomObjectsApi);
    hooks = await runWebhooks(c, crdRoutes, {
      configurationName: 'spiderpool-proven-reads',
      admittedWritesHorizonMs: HORIZON_MS,
    });
    await removeAll();
  });
  after(async () => {
    await Promise.all(informers.map((i) => i.stop()));
    await removeAll();
    await hooks?.stop();
  });

  it('notes a pool write in the record before it is answered', async () => {
    const created = await create(pool('noted', '10.251.0.0/24', '10.251.0.10-10.251.0.20'));
    const cm = await c.kubeConfig
      .makeApiClient(CoreV1Api)
      .readNamespacedConfigMap({ name: ADMITTED_WRITES_CONFIGMAP, namespace: INSTALL_NAMESPACE });
    const note = parseRecord(cm)?.writes.find((w) => w.uid === created.metadata.uid);
    assert.deepEqual(note && { kind: note.kind, name: note.name, generation: note.generation }, {
      kind: 'SpiderIPPool',
      name: created.metadata.name,
      generation: 1,
    });
  });

  it('passes over a frozen cache that misses a noted write, and uses a live one that holds it', async () => {
    const admitted = new AdmittedWrites(c.kubeConfig, INSTALL_NAMESPACE);
    await recordAged();
    const [frozenPools, frozenSubnets, livePools, liveSubnets] = [
      await started<SpiderIPPool>(KINDS.SpiderIPPool),
      await started<SpiderSubnet>(KINDS.SpiderSubnet),
      await started<SpiderIPPool>(KINDS.SpiderIPPool),
      await started<SpiderSubnet>(KINDS.SpiderSubnet),
    ];
    await frozenPools.stop();
    const view = (pools: Informer<SpiderIPPool>, subnets: Informer<SpiderSubnet>, sources: ReadSource[]) =>
      createProvenView({
        pools,
        subnets,
        readRecord: () => admitted.read(),
        consistent: createClusterView(c.kubeConfig),
        onRead: (s) => sources.push(s),
        horizonMs: HORIZON_MS,
      });
    const created = await create(pool('after-freeze', '10.251.1.0/24', '10.251.1.10-10.251.1.20'));

    const frozenSources: ReadSource[] = [];
    const fromFrozen = await view(frozenPools, frozenSubnets, frozenSources).listIPPools();
    assert.ok(
      fromFrozen.some((p) => p.metadata.uid === created.metadata.uid),
      'the new pool is listed',
    );
    assert.equal(frozenPools.store.get(created.metadata.name), undefined, 'the frozen cache never saw it');
    assert.deepEqual(frozenSources, ['apiserver']);

    const liveSources: ReadSource[] = [];
    const fromLive = await view(livePools, liveSubnets, liveSources).listIPPools();
    assert.ok(
      fromLive.some((p) => p.metadata.uid === created.metadata.uid),
      'the new pool is listed',
    );
    assert.deepEqual(liveSources, ['cache']);
  });

  it('refuses a pool created right after one it overlaps, every time, reading mostly from the caches', async () => {
    const cacheReads = async () =>
      (
        await hooks.webhooks.metrics.registry.getSingleMetric('spiderpool_webhook_pool_reads_total')?.get()
      )?.values.find((v) => v.labels.source === 'cache')?.value ?? 0;
    await recordAged();
    const before = await cacheReads();
    for (let i = 0; i < 15; i++) {
      const subnet = `10.252.${i}.0/24`;
      await create(pool(`first-${i}`, subnet, `10.252.${i}.10-10.252.${i}.20`));
      await assert.rejects(create(pool(`second-${i}`, subnet, `10.252.${i}.15-10.252.${i}.30`)), (err: unknown) => {
        assert.match(apiMessage(err), new RegExp(`overlaps spec.ips of SpiderIPPool "${PREFIX}first-${i}"`));
        return true;
      });
    }
    // Each create is checked by the mutating and the validating webhook; a refusal is re-read from the apiserver.
    assert.ok((await cacheReads()) - before >= 30, `cache reads: ${(await cacheReads()) - before}`);
  });
});
