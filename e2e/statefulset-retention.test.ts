// StatefulSet IP retention with real agents, the kubelet stand-in and the operator's collector: an
// ordinal keeps its address while the set wants it, even while its pod is being re-created; a scale-down
// frees exactly the addresses of the ordinals removed, whether the agent's CNI DEL or the collector does it.
import assert from 'node:assert/strict';
import { CoreV1Api, CustomObjectsApi, type V1Pod } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import type { SpiderIPPool } from '../api/v2beta1/types.ts';
import { GROUP, VERSION } from '../api/v2beta1/constants.ts';
import { parseRecords } from '../ipam/records.ts';
import { createGarbageCollector } from '../operator/gc/reconciler.ts';
import { createStatefulSetRetention } from '../operator/statefulset/reconciler.ts';
import type { RunningOperator } from '../operator/runtime/types.ts';
import { kubectlOk } from './cluster/kubectl.ts';
import { testCluster, type TestCluster } from './harness/cluster.ts';
import { startNodeSide, type NodeSide } from './harness/nodes.ts';
import { DEFAULT_GC_OPTIONS } from '../operator/gc/options.ts';
import { runOperator } from './harness/operator.ts';
import { eventually } from './harness/wait.ts';

const NS = 'sts-retention-e2e';
const POOL = 'sts-retention-v4';
const NODE = 'sts-node1';

async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) return 0;
  const { values } = await m.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))
    .reduce((sum, v) => sum + v.value, 0);
}

describe('StatefulSet IP retention and scale-down', function () {
  this.timeout(300_000);
  let c: TestCluster;
  let nodes: NodeSide;
  let core: CoreV1Api;
  let custom: CustomObjectsApi;
  let op: RunningOperator;

  const pool = async () =>
    (await custom.getClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: 'spiderippools',
      name: POOL,
    })) as SpiderIPPool;
  const records = async () => Object.fromEntries(parseRecords(await pool()));
  const endpointExists = async (name: string) => (await c.kubectl(['get', 'se', '-n', NS, name])).code === 0;
  const pods = async () => (await core.listNamespacedPod({ namespace: NS, labelSelector: 'app=web' })).items;
  const running = (count: number) =>
    eventually(`${count} running web pods`, 120_000, async () => {
      const list = (await pods()).filter(
        (p) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp && p.status.podIP,
      );
      return list.length === count ? new Map(list.map((p) => [p.metadata!.name!, p])) : undefined;
    });
  const ipOf = (p: V1Pod | undefined) => p?.status?.podIP as string;
  const scale = (replicas: number) =>
    kubectlOk(c.kubectl, ['scale', '-n', NS, 'statefulset', 'web', '--replicas', String(replicas)]);
  const scans = () => metric(op.registry, 'spiderpool_ip_gc_full_scan_counts_total');
  const afterScans = async (n: number) => {
    const target = (await scans()) + n;
    await eventually(`${n} more full scans`, 60_000, async () => ((await scans()) >= target ? true : undefined));
  };

  before(async () => {
    c = await testCluster();
    core = c.kubeConfig.makeApiClient(CoreV1Api);
    custom = c.kubeConfig.makeApiClient(CustomObjectsApi);
    await kubectlOk(c.kubectl, ['create', 'namespace', NS]);
    await custom.createClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: 'spiderippools',
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'SpiderIPPool',
        metadata: { name: POOL },
        spec: { subnet: '10.253.0.0/24', ips: ['10.253.0.10-10.253.0.60'] },
      },
    });
    nodes = await startNodeSide({ kubeConfig: c.kubeConfig, kubeconfigPath: c.cp.kubeconfig, nodes: [NODE] });
    const gc = { ...DEFAULT_GC_OPTIONS, intervalMs: 1000 };
    op = await runOperator(c.kubeConfig, [
      (ctx) => createGarbageCollector(ctx, gc),
      (ctx) => createStatefulSetRetention(ctx, gc),
    ]);
    await kubectlOk(c.kubectl, ['apply', '-n', NS, '-f', '-'], {
      stdin: JSON.stringify({
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        metadata: { name: 'web' },
        spec: {
          serviceName: 'web',
          replicas: 3,
          podManagementPolicy: 'Parallel',
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: {
              labels: { app: 'web' },
              annotations: { 'ipam.spidernet.io/ippool': JSON.stringify({ ipv4: [POOL] }) },
            },
            spec: {
              nodeSelector: { 'kubernetes.io/hostname': NODE },
              terminationGracePeriodSeconds: 1,
              containers: [{ name: 'nginx', image: 'nginx' }],
            },
          },
        },
      }),
    });
  });

  after(async () => {
    await op?.stop();
    await c?.kubectl(['delete', 'statefulset', 'web', '-n', NS, '--wait=false']);
    await c?.kubectl(['delete', 'pods', '--all', '-n', NS, '--force', '--grace-period=0']);
    await nodes?.stop();
    await c?.kubectl(['delete', 'node', NODE, '--wait=false']);
    await c?.kubectl(['delete', 'namespace', NS, '--wait=false']);
    await c?.kubectl(['delete', 'sp', POOL, '--ignore-not-found']);
  });

  it('a re-created ordinal keeps its address while the collector scans; scaling 3 → 1 frees exactly ordinals 1 and 2', async () => {
    const first = await running(3);
    const web1 = first.get('web-1');
    await core.deleteNamespacedPod({ namespace: NS, name: 'web-1' });
    const reborn = await eventually('web-1 re-created and running', 120_000, async () => {
      const p = (await running(3).catch(() => undefined))?.get('web-1');
      return p && p.metadata?.uid !== web1?.metadata?.uid ? p : undefined;
    });
    assert.equal(ipOf(reborn), ipOf(web1), 'the re-created web-1 has its address back');
    assert.equal((await records())[ipOf(web1)]?.podUid, reborn.metadata?.uid);

    await scale(1);
    await eventually('ordinals 1 and 2 freed', 90_000, async () =>
      Object.keys(await records()).length === 1 ? true : undefined,
    );
    const web0 = first.get('web-0');
    assert.deepEqual(await records(), {
      [ipOf(web0)]: { pod: `${NS}/web-0`, podUid: web0?.metadata?.uid, nic: 'eth0' },
    });
    assert.equal((await pool()).status?.allocatedIPCount, 1);
    await eventually('endpoints of ordinals 1 and 2 deleted', 60_000, async () =>
      !(await endpointExists('web-1')) && !(await endpointExists('web-2')) ? true : undefined,
    );
    assert.ok(await endpointExists('web-0'));
  });

  it('with no kubelet to run CNI DEL, the collector alone keeps a re-created ordinal and frees exactly the scaled-down ones', async () => {
    await scale(3);
    const before = await running(3);
    const ips = Object.fromEntries([...before].map(([name, p]) => [name, ipOf(p)]));
    const released = (reason?: string) =>
      metric(op.registry, 'spiderpool_ip_gc_released_ip_counts_total', reason ? { reason } : {});
    const freedBefore = await released();
    const pastGraceBefore = await released('PodTerminatedPastGrace');
    const mismatchBefore = await released('PodUIDMismatch');

    // The node stops acting: nothing finishes deletions or runs CNI DEL from here on.
    await nodes.kubelet.stop();
    const old2 = before.get('web-2')!;
    await core.deleteNamespacedPod({ namespace: NS, name: 'web-2', gracePeriodSeconds: 0 });
    await eventually('web-2 re-created by the StatefulSet controller', 60_000, async () => {
      const p = (await pods()).find((x) => x.metadata?.name === 'web-2');
      return p && p.metadata?.uid !== old2.metadata?.uid ? p : undefined;
    });
    await afterScans(3);
    assert.deepEqual(
      Object.keys(await records()).sort(),
      Object.values(ips).sort(),
      'web-2 keeps its address while it is being re-created',
    );
    assert.equal(await released(), freedBefore);

    await scale(1);
    await eventually('ordinals 1 and 2 freed by the collector', 60_000, async () =>
      Object.keys(await records()).length === 1 ? true : undefined,
    );
    assert.deepEqual(Object.keys(await records()), [ips['web-0']]);
    assert.equal((await records())[ips['web-0']!]?.podUid, before.get('web-0')?.metadata?.uid);
    assert.equal((await pool()).status?.allocatedIPCount, 1);
    // web-1 terminated past its grace period; web-2's record named the UID of the pod it replaced.
    assert.equal(await released('PodTerminatedPastGrace'), pastGraceBefore + 1);
    assert.equal(await released('PodUIDMismatch'), mismatchBefore + 1);
    assert.equal(await released(), freedBefore + 2);
    await eventually('endpoints of ordinals 1 and 2 deleted', 60_000, async () =>
      !(await endpointExists('web-1')) && !(await endpointExists('web-2')) ? true : undefined,
    );
    assert.ok(await endpointExists('web-0'));
  });
});
