// IP garbage collection against the real control plane: records of pods that are gone, terminated past
// their grace period or replaced by a pod of another UID are freed; records of live pods never are. The
// last part runs real agents and the kubelet stand-in while pods come and go and the collector scans
// every second.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type V1ObjectMeta,
  type V1Pod,
  type V1PodSpec,
} from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import type { SpiderEndpoint } from '../api/v2beta1/types.ts';
import { FINALIZER, GROUP, VERSION } from '../api/v2beta1/constants.ts';
import { parseRecords } from '../ipam/records.ts';
import { isConflict, isNotFound } from '../lib/kube.ts';
import type { GcOptions } from '../operator/gc/options.ts';
import { createGarbageCollector } from '../operator/gc/reconciler.ts';
import { createStatefulSetRetention } from '../operator/statefulset/reconciler.ts';
import type { RunningOperator } from '../operator/runtime/types.ts';
import { kubectlOk } from './cluster/kubectl.ts';
import { testCluster, type TestCluster } from './harness/cluster.ts';
import { startNodeSide, type NodeSide } from './harness/nodes.ts';
import { DEFAULT_GC_OPTIONS } from '../operator/gc/options.ts';
import { runOperator } from './harness/operator.ts';
import { eventually } from './harness/wait.ts';
import { SpiderpoolClient } from '../lib/spiderpool-client.ts';

const NS = 'gc-e2e';
const POOL = 'gc-records-v4';
const CHAOS_POOL = 'gc-chaos-v4';
const GHOST_NODE = 'gc-ghost-node';
const CHAOS_NODES = ['gc-node1', 'gc-node2'];
const HOLD = 'gc-e2e.spidernet.io/hold';
/** Matches no node: such pods exist, stay Pending and are alive. */
const UNSCHEDULABLE = { nodeSelector: { 'gc-e2e.spidernet.io/none': 'true' } };
const jsonPatch = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);

async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) return 0;
  const { values } = await m.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))
    .reduce((sum, v) => sum + v.value, 0);
}

describe('IP garbage collection', function () {
  this.timeout(300_000);
  let c: TestCluster;
  let core: CoreV1Api;
  let custom: CustomObjectsApi;
  const operators: RunningOperator[] = [];

  let spiderpool: SpiderpoolClient;
  const readPool = (name: string) => spiderpool.read(name);
  const records = async (name: string) => Object.fromEntries(parseRecords(await readPool(name)));
  const endpoint = (name: string) =>
    custom
      .getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: 'spiderendpoints', namespace: NS, name })
      .then(
        (e) => e as SpiderEndpoint,
        (err: unknown) => {
          if (isNotFound(err)) return undefined;
          throw err;
        },
      );

  /** Applies a change to a pool's records the way an agent does: fresh read, resourceVersion-guarded write. */
  const editRecords = async (name: string, edit: (r: Map<string, { pod: string; podUid: string }>) => void) => {
    for (;;) {
      const pool = await readPool(name);
      const r = parseRecords(pool);
      edit(r);
      const status = {
        ...pool.status,
        allocatedIPCount: r.size,
        allocatedIPs: r.size ? JSON.stringify(Object.fromEntries(r)) : undefined,
      };
      try {
        await custom.replaceClusterCustomObjectStatus({
          group: GROUP,
          version: VERSION,
          plural: 'spiderippools',
          name,
          body: { ...pool, status },
        });
        return;
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
    }
  };

  const createPool = (name: string, subnet: string, ips: string) =>
    custom.createClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: 'spiderippools',
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'SpiderIPPool',
        metadata: { name },
        spec: { subnet, ips: [ips] },
      },
    });

  const createEndpoint = (name: string, uid: string, ip: string, owner: { type: string; name: string }) =>
    custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: 'spiderendpoints',
      namespace: NS,
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'SpiderEndpoint',
        metadata: { name, namespace: NS, finalizers: [FINALIZER] },
        status: {
          current: { uid, node: GHOST_NODE, ips: [{ interface: 'eth0', ipv4: `${ip}/24`, ipv4Pool: POOL, vlan: 0 }] },
          ownerControllerType: owner.type,
          ownerControllerName: owner.name,
        },
      },
    });

  const createPod = async (name: string, spec: Partial<V1PodSpec> = UNSCHEDULABLE, metadata: V1ObjectMeta = {}) =>
    core.createNamespacedPod({
      namespace: NS,
      body: { metadata: { name, ...metadata }, spec: { containers: [{ name: 'c', image: 'nginx' }], ...spec } },
    });

  const start = async (overrides: Partial<GcOptions>) => {
    const options = { ...DEFAULT_GC_OPTIONS, ...overrides };
    const op = await runOperator(c.kubeConfig, [
      (ctx) => createGarbageCollector(ctx, options),
      (ctx) => createStatefulSetRetention(ctx, options),
    ]);
    operators.push(op);
    return op;
  };
  const stop = async (op: RunningOperator) => {
    operators.splice(operators.indexOf(op), 1);
    await op.stop();
  };
  const scans = (op: RunningOperator) => metric(op.registry, 'spiderpool_ip_gc_full_scan_counts_total');
  const afterScans = async (op: RunningOperator, n: number) => {
    const target = (await scans(op)) + n;
    await eventually(`${n} more full scans`, 60_000, async () => ((await scans(op)) >= target ? true : undefined));
  };

  before(async () => {
    c = await testCluster();
    core = c.kubeConfig.makeApiClient(CoreV1Api);
    custom = c.kubeConfig.makeApiClient(CustomObjectsApi);
    spiderpool = new SpiderpoolClient(c.kubeConfig);
    await kubectlOk(c.kubectl, ['create', 'namespace', NS]);
    // The apiserver refuses pods until the namespace's default service account has its token.
    await eventually('the default service account token', 60_000, async () =>
      (await core.readNamespacedServiceAccount({ namespace: NS, name: 'default' }).catch(() => undefined))?.secrets
        ?.length
        ? true
        : undefined,
    );
  });

  after(async () => {
    for (const op of operators.splice(0)) await op.stop();
    // Pods held by the test's finalizer, then everything else.
    for (const name of ['dying', 'slow-dying']) {
      await core
        .patchNamespacedPod(
          { namespace: NS, name, body: [{ op: 'replace', path: '/metadata/finalizers', value: [] }] },
          jsonPatch,
        )
        .catch(() => undefined);
    }
    await c?.kubectl(['delete', 'pods', '--all', '-n', NS, '--force', '--grace-period=0']);
    const left = (await custom
      .listNamespacedCustomObject({ group: GROUP, version: VERSION, plural: 'spiderendpoints', namespace: NS })
      .catch(() => ({ items: [] }))) as { items: SpiderEndpoint[] };
    for (const e of left.items) {
      await custom
        .patchNamespacedCustomObject(
          {
            group: GROUP,
            version: VERSION,
            plural: 'spiderendpoints',
            namespace: NS,
            name: e.metadata.name,
            body: [{ op: 'replace', path: '/metadata/finalizers', value: [] }],
          },
          jsonPatch,
        )
        .catch(() => undefined);
    }
    await c?.kubectl(['delete', 'namespace', NS, '--wait=false']);
    await c?.kubectl(['delete', 'node', GHOST_NODE, '--wait=false']);
    await c?.kubectl(['delete', 'sp', POOL, CHAOS_POOL, '--ignore-not-found']);
  });

  describe('records written into a pool for dead, replaced, terminating and live pods', () => {
    const ip = (n: number) => `10.251.0.${n}`;
    let uids: Record<string, string>;
    let written: Record<string, { pod: string; podUid: string }>;

    before(async () => {
      await createPool(POOL, '10.251.0.0/24', '10.251.0.10-10.251.0.50');
      // A node without a kubelet: a pod bound to it terminates gracefully and never finishes.
      await core.createNode({
        body: { metadata: { name: GHOST_NODE, labels: { 'kubernetes.io/hostname': GHOST_NODE } } },
      });
      const live = await createPod('live');
      const reused = await createPod('reused');
      const dying = await createPod('dying', UNSCHEDULABLE, { finalizers: [HOLD] });
      const slow = await createPod(
        'slow-dying',
        { nodeName: GHOST_NODE, terminationGracePeriodSeconds: 300 },
        { finalizers: [HOLD] },
      );
      // An unscheduled pod is deleted at once (grace 0); the finalizer keeps it, terminating past its grace.
      await core.deleteNamespacedPod({ namespace: NS, name: 'dying' });
      await core.deleteNamespacedPod({ namespace: NS, name: 'slow-dying', gracePeriodSeconds: 300 });
      await kubectlOk(c.kubectl, ['apply', '-n', NS, '-f', '-'], {
        stdin: JSON.stringify({
          apiVersion: 'apps/v1',
          kind: 'StatefulSet',
          metadata: { name: 'db' },
          spec: {
            serviceName: 'db',
            replicas: 1,
            selector: { matchLabels: { app: 'db' } },
            template: {
              metadata: { labels: { app: 'db' } },
              spec: { ...UNSCHEDULABLE, containers: [{ name: 'c', image: 'nginx' }] },
            },
          },
        }),
      });
      uids = {
        live: live.metadata!.uid!,
        dying: dying.metadata!.uid!,
        slow: slow.metadata!.uid!,
        ghost: randomUUID(),
        reusedOld: randomUUID(),
        db0Old: randomUUID(),
        db1Old: randomUUID(),
        orphan: randomUUID(),
      };
      assert.notEqual(reused.metadata?.uid, uids.reusedOld);
      written = {
        [ip(10)]: { pod: `${NS}/live`, podUid: uids.live! },
        [ip(11)]: { pod: `${NS}/ghost`, podUid: uids.ghost! },
        [ip(12)]: { pod: `${NS}/reused`, podUid: uids.reusedOld! },
        [ip(13)]: { pod: `${NS}/dying`, podUid: uids.dying! },
        [ip(14)]: { pod: `${NS}/slow-dying`, podUid: uids.slow! },
        [ip(15)]: { pod: `${NS}/db-0`, podUid: uids.db0Old! },
        [ip(16)]: { pod: `${NS}/db-1`, podUid: uids.db1Old! },
      };
      await editRecords(POOL, (r) => {
        for (const [k, v] of Object.entries(written)) r.set(k, v);
      });
      await createEndpoint('live', uids.live!, ip(10), { type: 'Pod', name: 'live' });
      await createEndpoint('ghost', uids.ghost!, ip(11), { type: 'Deployment', name: 'ghost' });
      await createEndpoint('reused', uids.reusedOld!, ip(12), { type: 'Pod', name: 'reused' });
      await createEndpoint('db-0', uids.db0Old!, ip(15), { type: 'StatefulSet', name: 'db' });
      await createEndpoint('db-1', uids.db1Old!, ip(16), { type: 'StatefulSet', name: 'db' });
      await createEndpoint('orphan', uids.orphan!, ip(20), { type: 'Deployment', name: 'orphan' });
    });

    it('a dry run reports what it would free and changes nothing', async () => {
      const op = await start({ dryRun: true, intervalMs: 1000 });
      const pending = (reason: string) => metric(op.registry, 'spiderpool_ip_gc_dry_run_pending_ips', { reason });
      await eventually('the dry run to find the four dead records', 60_000, async () =>
        (await metric(op.registry, 'spiderpool_ip_gc_dry_run_pending_ips')) === 4 ? true : undefined,
      );
      for (const reason of ['PodDeleted', 'PodUIDMismatch', 'PodTerminatedPastGrace', 'StatefulSetScaledDown'])
        assert.equal(await pending(reason), 1, reason);
      await afterScans(op, 3);
      assert.equal(await metric(op.registry, 'spiderpool_ip_gc_dry_run_pending_ips'), 4);
      assert.deepEqual(await records(POOL), written);
      assert.equal((await readPool(POOL)).status?.allocatedIPCount, 7);
      for (const name of ['live', 'ghost', 'reused', 'db-0', 'db-1', 'orphan'])
        assert.ok(await endpoint(name), `endpoint ${name} still exists`);
      assert.equal(await metric(op.registry, 'spiderpool_ip_gc_released_ip_counts_total'), 0);
      assert.equal(await metric(op.registry, 'spiderpool_ip_gc_deleted_endpoint_counts_total'), 0);
      await stop(op);
    });

    it('frees exactly the records of dead pods and their endpoints, never the live ones', async () => {
      const op = await start({ intervalMs: 600_000 });
      await eventually('the dead records freed', 60_000, async () =>
        Object.keys(await records(POOL)).length === 3 ? true : undefined,
      );
      assert.deepEqual(
        await records(POOL),
        { [ip(10)]: written[ip(10)], [ip(14)]: written[ip(14)], [ip(15)]: written[ip(15)] },
        'live, terminating within its grace period, and a StatefulSet ordinal being re-created are kept',
      );
      assert.equal((await readPool(POOL)).status?.allocatedIPCount, 3);
      for (const reason of ['PodDeleted', 'PodUIDMismatch', 'PodTerminatedPastGrace', 'StatefulSetScaledDown']) {
        assert.equal(await metric(op.registry, 'spiderpool_ip_gc_released_ip_counts_total', { reason }), 1, reason);
      }
      assert.equal((await metric(op.registry, 'spiderpool_ip_gc_counts_total')) >= 1, true);
      await eventually('dead endpoints deleted', 30_000, async () => {
        const gone = await Promise.all(
          ['ghost', 'reused', 'db-1', 'orphan'].map(async (n) => (await endpoint(n)) === undefined),
        );
        return gone.every(Boolean) ? true : undefined;
      });
      assert.ok(await endpoint('live'), 'the live pod keeps its endpoint');
      assert.ok(await endpoint('db-0'), 'the retained StatefulSet ordinal keeps its endpoint');
      assert.ok((await core.readNamespacedPod({ namespace: NS, name: 'db-0' })).metadata?.uid !== uids.db0Old);

      // Event driven: with the next full scan ten minutes away, a deleted pod's record goes at once.
      await core.deleteNamespacedPod({ namespace: NS, name: 'live' });
      await eventually('the deleted pod released', 20_000, async () =>
        records(POOL).then((r) => (r[ip(10)] ? undefined : true)),
      );
      await eventually('its endpoint deleted', 20_000, async () =>
        (await endpoint('live')) === undefined ? true : undefined,
      );
      assert.deepEqual(Object.keys(await records(POOL)).sort(), [ip(14), ip(15)]);
      await stop(op);
    });
  });

  describe('chaos: pods created and deleted while the collector scans every second', () => {
    let nodes: NodeSide;
    const target = 10;
    const annotations = { 'ipam.spidernet.io/ippool': JSON.stringify({ ipv4: [CHAOS_POOL] }) };
    const affinity = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [
            { matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: CHAOS_NODES }] },
          ],
        },
      },
    };
    const chaosPods = async () => (await core.listNamespacedPod({ namespace: NS, labelSelector: 'app=chaos' })).items;
    const alive = (p: V1Pod) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp && !!p.status.podIP;

    before(async () => {
      await createPool(CHAOS_POOL, '10.252.0.0/24', '10.252.0.10-10.252.0.250');
      nodes = await startNodeSide({ kubeConfig: c.kubeConfig, kubeconfigPath: c.cp.kubeconfig, nodes: CHAOS_NODES });
    });

    after(async () => {
      await c?.kubectl(['delete', 'pods', '-n', NS, '-l', 'app=chaos', '--force', '--grace-period=0']);
      await nodes?.stop();
      // Without a kubelet they would soon be NotReady; other tests' pods must not be scheduled there.
      await c?.kubectl(['delete', 'node', ...CHAOS_NODES, '--wait=false']);
    });

    it('no live pod ever loses its record, and no record outlives its pod after a scan', async () => {
      const op = await start({ intervalMs: 1000 });
      const violations: string[] = [];
      let ghosts = 0;
      let checks = 0;
      let running = true;

      // A pod Running in two listings taken before and after a pool read was alive throughout that read,
      // and its address was recorded before it was Running: the record must be in that read.
      const sampler = (async () => {
        while (running) {
          const before = new Map((await chaosPods()).filter(alive).map((p) => [p.metadata!.uid!, p]));
          const pool = await records(CHAOS_POOL);
          for (const p of (await chaosPods()).filter(alive)) {
            if (!before.has(p.metadata!.uid!)) continue;
            checks++;
            const r = pool[p.status!.podIP!];
            if (r?.podUid !== p.metadata?.uid)
              violations.push(
                `${p.metadata?.name} (${p.metadata?.uid}) runs with ${p.status?.podIP} but the pool records ${JSON.stringify(r)}`,
              );
          }
          await new Promise((r) => setTimeout(r, 300));
        }
      })();

      let serial = 0;
      const deadline = Date.now() + 40_000;
      while (Date.now() < deadline) {
        const pods = (await chaosPods()).filter((p) => !p.metadata?.deletionTimestamp);
        if (pods.length < target || Math.random() < 0.3) {
          // Names are reused, so a record may outlive its pod under a name that a new pod holds.
          const name = `chaos-${serial++ % (target * 2)}`;
          await createPod(
            name,
            { affinity, terminationGracePeriodSeconds: 1 },
            { labels: { app: 'chaos' }, annotations },
          ).catch((err: unknown) => {
            if (!isConflict(err)) throw err;
          });
        } else {
          const victim = pods[Math.floor(Math.random() * pods.length)]!;
          // Graceful (the agent releases on CNI DEL) or forced (the pod object is gone before the DEL).
          const force = Math.random() < 0.4;
          await core
            .deleteNamespacedPod({
              namespace: NS,
              name: victim.metadata!.name!,
              ...(force ? { gracePeriodSeconds: 0 } : {}),
            })
            .catch((err: unknown) => {
              if (!isNotFound(err)) throw err;
            });
        }
        if (Math.random() < 0.2) {
          // What a missed CNI DEL leaves behind: a record for a pod that no longer exists.
          ghosts++;
          const n = 200 + (ghosts % 50);
          await editRecords(CHAOS_POOL, (r) => {
            if (!r.has(`10.252.0.${n}`))
              r.set(`10.252.0.${n}`, { pod: `${NS}/chaos-gone-${ghosts}`, podUid: randomUUID() });
          });
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      running = false;
      await sampler;
      assert.deepEqual(violations, []);
      assert.ok(checks > 100, `only ${checks} running pods were checked against the pool`);

      await eventually('no chaos pod terminating', 120_000, async () =>
        (await chaosPods()).some((p) => p.metadata?.deletionTimestamp) ? undefined : true,
      );
      await eventually('every chaos pod running', 120_000, async () =>
        (await chaosPods()).every(alive) ? true : undefined,
      );
      await afterScans(op, 2);
      const pods = await chaosPods();
      const final = await records(CHAOS_POOL);
      const byUid = new Map(pods.map((p) => [p.metadata!.uid!, p]));
      for (const [address, r] of Object.entries(final)) {
        const p = byUid.get(r.podUid);
        assert.ok(
          p && `${NS}/${p.metadata?.name}` === r.pod,
          `${address} is recorded for ${r.pod} (${r.podUid}), which no longer exists`,
        );
      }
      for (const p of pods)
        assert.equal(final[p.status!.podIP!]?.podUid, p.metadata?.uid, `${p.metadata?.name} keeps its record`);
      assert.equal((await readPool(CHAOS_POOL)).status?.allocatedIPCount, Object.keys(final).length);
      const freed = await metric(op.registry, 'spiderpool_ip_gc_released_ip_counts_total');
      assert.ok(freed >= 1, 'the collector freed the leftover records');
      console.log(
        `      chaos: ${serial} creations, ${checks} running pods checked against the pool, ${ghosts} leftover records injected, ${freed} records freed by the collector, ${pods.length} pods running at the end`,
      );
      await stop(op);
    });
  });

  it('malformed records: entries without a pod or with a non-IP key are kept as they are and the scan goes on', async () => {
    const name = 'gc-malformed-v4';
    await createPool(name, '10.252.0.0/24', '10.252.0.10-10.252.0.50');
    const dead = { pod: `${NS}/gone-for-good`, podUid: randomUUID() };
    const malformed =
      '{"__proto__":{"pod":"gc-e2e/proto","podUid":"p"},"bogus":1,"10.252.0.10":{"podUid":"no-pod"},' +
      `"10.252.0.11":${JSON.stringify(dead)}}`;
    const pool = await readPool(name);
    await custom.replaceClusterCustomObjectStatus({
      group: GROUP,
      version: VERSION,
      plural: 'spiderippools',
      name,
      body: { ...pool, status: { ...pool.status, allocatedIPs: malformed, allocatedIPCount: 1 } },
    });
    const op = await start({ intervalMs: 1000 });
    try {
      await eventually('the dead record freed', 60_000, async () =>
        (await records(name))['10.252.0.11'] ? undefined : true,
      );
      const left = (await readPool(name)).status?.allocatedIPs ?? '';
      assert.equal(
        left,
        '{"__proto__":{"pod":"gc-e2e/proto","podUid":"p"},"bogus":1,"10.252.0.10":{"podUid":"no-pod"}}',
        'the malformed entries are left exactly as they were',
      );
    } finally {
      await stop(op);
      await c.kubectl(['delete', 'sp', name, '--ignore-not-found', '--wait=false']);
    }
  });
});
