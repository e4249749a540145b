// The operator runtime on the real apiserver, driven by small reconcilers over ConfigMaps: the sync
// barrier, de-duplication, per-key back-off, one worker per key, optional kinds, resync, and leader
// election between two replicas (hand-over, and a lost lease stopping work at once).
import assert from 'node:assert/strict';
import {
  ApiextensionsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  V1MicroTime,
} from '@kubernetes/client-node';
import { createLogger } from '../lib/log.ts';
import { startOperator } from '../operator/start.ts';
import { keyOf, type Kind, type Key, type ReconcilerFactory, type RunningOperator } from '../operator/runtime/types.ts';
import { testCluster, type TestCluster } from './harness/cluster.ts';
import { runOperator } from './harness/operator.ts';
import { eventually, inBatches } from './harness/wait.ts';

const NS = 'operator-runtime';
const CONFIGMAPS: Kind = {
  group: '',
  version: 'v1',
  plural: 'configmaps',
  kind: 'ConfigMap',
  namespaced: true,
  namespace: NS,
};
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A reconciler over the test namespace's ConfigMaps that records what it saw. */
function recorder(
  name: string,
  behaviour: (key: Key, data: Record<string, string> | undefined) => Promise<void> = async () => undefined,
) {
  const seen: { key: Key; at: number; data?: Record<string, string>; cacheSize: number }[] = [];
  let inFlight = new Map<Key, number>();
  let overlaps = 0;
  let abortedSignals = 0;
  const factory: ReconcilerFactory = ({ caches }) => {
    const cache = caches.of<{ metadata?: { name?: string }; data?: Record<string, string> }>(CONFIGMAPS);
    return {
      name,
      watches: [{ kind: CONFIGMAPS, keys: (o) => [keyOf(o)] }],
      async reconcile(key, signal) {
        if ((inFlight.get(key) ?? 0) > 0) overlaps++;
        inFlight.set(key, (inFlight.get(key) ?? 0) + 1);
        try {
          const data = cache.get(key)?.data;
          seen.push({
            key,
            at: Date.now(),
            data,
            cacheSize: cache.list(NS).filter((c) => c.metadata?.name?.startsWith('cm-')).length,
          });
          await behaviour(key, data);
          if (signal.aborted) abortedSignals++;
        } finally {
          inFlight.set(key, (inFlight.get(key) ?? 1) - 1);
        }
      },
    };
  };
  return {
    factory,
    seen,
    overlaps: () => overlaps,
    aborted: () => abortedSignals,
    reset: () => {
      seen.length = 0;
      inFlight = new Map();
    },
  };
}

describe('operator runtime', function () {
  this.timeout(180_000);
  let c: TestCluster;
  let core: CoreV1Api;
  const running: RunningOperator[] = [];
  const run = async (...args: Parameters<typeof runOperator>) => {
    const op = await runOperator(...args);
    running.push(op);
    return op;
  };
  const putConfigMap = (name: string, data: Record<string, string>) =>
    core.replaceNamespacedConfigMap({ namespace: NS, name, body: { metadata: { name }, data } });

  before(async function () {
    this.timeout(300_000);
    c = await testCluster();
    core = c.kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: NS } } });
    await inBatches(
      Array.from({ length: 30 }, (_, i) => i),
      10,
      (i) =>
        core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: `cm-${i}` }, data: { v: '0' } } }),
    );
  });

  afterEach(async () => {
    await Promise.all(running.splice(0).map((op) => op.stop()));
  });

  after(async () => {
    await c?.kubectl(['delete', 'namespace', NS, '--wait=false']);
  });

  it('reconciles only after the first LIST, and then every existing object', async () => {
    const r = recorder('sync');
    await run(c.kubeConfig, [r.factory]);
    await eventually('every ConfigMap reconciled', 20_000, async () =>
      new Set(r.seen.map((s) => s.key)).size >= 30 ? true : undefined,
    );
    assert.ok(
      r.seen.every((s) => s.cacheSize === 30),
      'the cache was complete at the first reconcile',
    );
  });

  it('folds a burst of changes to one key into few reconciles that end on the last version', async () => {
    const r = recorder('dedup', () => sleep(300));
    await run(c.kubeConfig, [r.factory], { workers: 2 });
    await eventually('initial reconciles', 20_000, async () => (r.seen.length >= 30 ? true : undefined));
    await sleep(500);
    r.reset();
    for (let i = 1; i <= 20; i++) await putConfigMap('cm-0', { v: String(i) });
    await eventually('the last version reconciled', 20_000, async () =>
      r.seen.at(-1)?.data?.v === '20' ? true : undefined,
    );
    await sleep(1000);
    const forKey = r.seen.filter((s) => s.key === `${NS}/cm-0`);
    assert.ok(forKey.length < 10, `20 updates gave ${forKey.length} reconciles`);
    assert.equal(forKey.at(-1)?.data?.v, '20');
    assert.equal(r.overlaps(), 0, 'one key never runs on two workers');
  });

  it('retries a failing key with growing back-off and counts the errors', async () => {
    let failures = 0;
    const r = recorder('backoff', async (key) => {
      if (key === `${NS}/cm-1` && failures < 4) {
        failures++;
        throw new Error('injected failure');
      }
    });
    const op = await run(c.kubeConfig, [r.factory]);
    await eventually('the key to succeed after 4 failures', 30_000, async () =>
      failures === 4 && r.seen.filter((s) => s.key === `${NS}/cm-1`).length === 5 ? true : undefined,
    );
    const times = r.seen.filter((s) => s.key === `${NS}/cm-1`).map((s) => s.at);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    for (let i = 1; i < gaps.length; i++)
      assert.ok(gaps[i]! > gaps[i - 1]! * 1.5, `back-off grows: ${gaps.join(', ')} ms`);
    assert.ok(gaps[0]! >= 150 && gaps[3]! >= 1500, `back-off from ~200 ms doubling: ${gaps.join(', ')} ms`);
    const metrics = await op.registry.getSingleMetricAsString('spiderpool_controller_reconcile_errors_total');
    assert.match(metrics, /controller="backoff"} 4/);
  });

  it('syncs with an optional kind whose CRD is missing, and fills its cache once the CRD appears', async () => {
    const group = 'optional.spiderpool-test.io';
    const widgets: Kind = {
      group,
      version: 'v1',
      plural: 'widgets',
      kind: 'Widget',
      namespaced: false,
      optional: true,
    };
    let widgetCount = -1;
    const factory: ReconcilerFactory = ({ caches }) => {
      const cache = caches.of(widgets);
      return {
        name: 'optional',
        watches: [{ kind: widgets, keys: (o) => [keyOf(o)] }],
        initialKeys: () => ['scan'],
        async reconcile() {
          widgetCount = cache.list().length;
        },
      };
    };
    await run(c.kubeConfig, [factory], { optionalRetryMs: 1000 });
    await eventually('the scan to run with an empty cache', 10_000, async () => (widgetCount === 0 ? true : undefined));
    const ext = c.kubeConfig.makeApiClient(ApiextensionsV1Api);
    await ext.createCustomResourceDefinition({
      body: {
        metadata: { name: `widgets.${group}` },
        spec: {
          group,
          scope: 'Cluster',
          names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
          versions: [
            {
              name: 'v1',
              served: true,
              storage: true,
              schema: { openAPIV3Schema: { type: 'object', x_kubernetes_preserve_unknown_fields: true } },
            },
          ],
        },
      },
    });
    try {
      const custom = c.kubeConfig.makeApiClient(CustomObjectsApi);
      await eventually('the CRD to be served', 30_000, async () => {
        try {
          await custom.createClusterCustomObject({
            group,
            version: 'v1',
            plural: 'widgets',
            body: { apiVersion: `${group}/v1`, kind: 'Widget', metadata: { name: 'w1' } },
          });
          return true;
        } catch {
          return undefined;
        }
      });
      await eventually('the widget to reach the cache and the reconciler', 20_000, async () =>
        widgetCount === 1 ? true : undefined,
      );
    } finally {
      await ext.deleteCustomResourceDefinition({ name: `widgets.${group}` });
    }
  });

  it('resync re-enqueues every key', async () => {
    const r = recorder('resync');
    const op = await run(c.kubeConfig, [r.factory]);
    await eventually('initial reconciles', 20_000, async () => (r.seen.length >= 30 ? true : undefined));
    await sleep(300);
    r.reset();
    await op.resync();
    await eventually('every key reconciled again', 20_000, async () =>
      new Set(r.seen.map((s) => s.key)).size >= 30 ? true : undefined,
    );
  });

  describe('leader election', () => {
    const leaseName = 'operator-runtime-election';
    const lease = {
      leaseDurationMs: 4000,
      renewDeadlineMs: 3000,
      retryPeriodMs: 500,
      leaseNamespace: 'kube-system',
      leaseName,
    };

    it('runs reconcilers on one replica only and hands over when the leader stops', async () => {
      const a = recorder('election');
      const b = recorder('election');
      const first = await run(c.kubeConfig, [a.factory], lease);
      const second = await startOperator({
        kubeConfig: c.kubeConfig,
        reconcilers: [b.factory],
        ...lease,
        log: createLogger('operator', 'warn'),
      });
      running.push(second);
      await second.waitForSync();
      await sleep(2000);
      assert.ok(first.isLeader() && !second.isLeader(), 'exactly one leader');
      assert.ok(
        a.seen.length >= 30 && b.seen.length === 0,
        `only the leader reconciles (${a.seen.length} / ${b.seen.length})`,
      );
      const stoppedAt = Date.now();
      await first.stop();
      await eventually('the second replica to lead', 10_000, async () => (second.isLeader() ? true : undefined));
      const handOverMs = Date.now() - stoppedAt;
      assert.ok(handOverMs < 2000, `a released lease is taken at once (${handOverMs} ms)`);
      await eventually('the new leader to reconcile', 10_000, async () => (b.seen.length >= 30 ? true : undefined));
    });

    it('stops work at once when another holder takes the lease', async () => {
      let slowStarted = 0;
      const r = recorder('lost', async (key) => {
        if (key === `${NS}/cm-2`) {
          slowStarted++;
          await sleep(3000);
        }
      });
      const op = await run(c.kubeConfig, [r.factory], lease);
      await eventually('the slow reconcile to start', 10_000, async () => (slowStarted > 0 ? true : undefined));
      const leases = c.kubeConfig.makeApiClient(CoordinationV1Api);
      const current = await leases.readNamespacedLease({ name: leaseName, namespace: 'kube-system' });
      const now = new V1MicroTime();
      await leases.replaceNamespacedLease({
        name: leaseName,
        namespace: 'kube-system',
        body: {
          ...current,
          spec: {
            ...current.spec,
            holderIdentity: 'intruder',
            renewTime: now,
            acquireTime: now,
            leaseDurationSeconds: 3,
          },
        },
      });
      const takenAt = Date.now();
      await eventually('the replica to stop leading', 5_000, async () => (op.isLeader() ? undefined : true));
      assert.ok(Date.now() - takenAt <= 1500, 'noticed within a retry period');
      const countAtLoss = r.seen.length;
      await putConfigMap('cm-3', { v: 'while-not-leading' });
      await sleep(1000);
      assert.equal(r.seen.length, countAtLoss, 'no reconcile runs without the lease');
      await eventually('the in-flight reconcile to see its signal aborted', 5_000, async () =>
        r.aborted() > 0 ? true : undefined,
      );
      await eventually('the lease to be re-acquired after the intruder lapses', 15_000, async () =>
        op.isLeader() ? true : undefined,
      );
      await eventually('work to resume', 10_000, async () =>
        r.seen.some((s) => s.data?.v === 'while-not-leading') ? true : undefined,
      );
    });
  });
});
