// The IPPool reconciler on the real apiserver: status counters, the CIDR label, the finalizer, and the
// per-pool gauges on the metrics port compared with what `kubectl get sp` shows.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import type { SpiderIPPool } from '../api/v2beta1/types.ts';
import { FINALIZER, GROUP, VERSION } from '../api/v2beta1/constants.ts';
import { isNotFound } from '../lib/kube.ts';
import { createIPPoolReconciler } from '../operator/ippool/reconciler.ts';
import type { RunningOperator } from '../operator/runtime/types.ts';
import { kubectlOk } from './cluster/kubectl.ts';
import { testCluster, type TestCluster } from './harness/cluster.ts';
import { runOperator } from './harness/operator.ts';
import { table } from './harness/table.ts';
import { eventually } from './harness/wait.ts';

const PREFIX = 'ippool-rec-';

describe('IPPool reconciler', function () {
  this.timeout(120_000);
  let c: TestCluster;
  let custom: CustomObjectsApi;
  let operator: RunningOperator;

  const list = { group: GROUP, version: VERSION, plural: 'spiderippools' };
  const api = (name: string) => ({ ...list, name });
  const createPool = (name: string, spec: Record<string, unknown>) =>
    custom.createClusterCustomObject({
      ...list,
      body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'SpiderIPPool', metadata: { name: PREFIX + name }, spec },
    });
  const readPool = async (name: string) => (await custom.getClusterCustomObject(api(PREFIX + name))) as SpiderIPPool;
  /** Writes allocation records the way an agent does: a full status PUT with the read resourceVersion. */
  const writeRecords = async (name: string, records: Record<string, { pod: string; podUid: string }>) => {
    const pool = await readPool(name);
    const allocatedIPs = Object.keys(records).length ? JSON.stringify(records) : undefined;
    await custom.replaceClusterCustomObjectStatus({
      ...api(PREFIX + name),
      body: { ...pool, status: { ...pool.status, allocatedIPs } },
    });
  };
  const statusOf = (name: string, want: { total: number; allocated: number }) =>
    eventually(`status of ${name} to be ${JSON.stringify(want)}`, 30_000, async () => {
      const pool = await readPool(name);
      return pool.status?.totalIPCount === want.total && pool.status?.allocatedIPCount === want.allocated
        ? pool
        : undefined;
    });

  before(async function () {
    this.timeout(300_000);
    c = await testCluster();
    custom = c.kubeConfig.makeApiClient(CustomObjectsApi);
    operator = await runOperator(c.kubeConfig, [createIPPoolReconciler], { metricsPort: 0 });
  });

  after(async () => {
    await operator?.stop();
    const left = ((await custom.listClusterCustomObject(list)) as { items: SpiderIPPool[] }).items.filter((p) =>
      p.metadata.name.startsWith(PREFIX),
    );
    for (const pool of left) {
      await custom
        .patchClusterCustomObject({
          ...api(pool.metadata.name),
          body: [{ op: 'replace', path: '/metadata/finalizers', value: [] }],
        })
        .catch(() => undefined);
      await custom.deleteClusterCustomObject(api(pool.metadata.name)).catch(() => undefined);
    }
  });

  it('sets totalIPCount = |ips − excludeIPs|, allocatedIPCount, the CIDR label and the finalizer', async () => {
    await createPool('v4', {
      ipVersion: 4,
      subnet: '10.80.0.0/16',
      ips: ['10.80.0.10-10.80.0.109', '10.80.1.0-10.80.1.255'],
      excludeIPs: ['10.80.0.50-10.80.0.59', '10.80.1.0'],
    });
    await createPool('v6', { ipVersion: 6, subnet: 'fd00:80::/64', ips: ['fd00:80::-fd00:80::ffff:ffff:ffff'] });
    await createPool('empty', { ipVersion: 4, subnet: '10.81.0.0/24' });
    const v4 = await statusOf('v4', { total: 100 - 10 + 256 - 1, allocated: 0 });
    assert.equal(v4.metadata.labels?.['ipam.spidernet.io/ippool-cidr'], '10-80-0-0-16');
    assert.deepEqual(v4.metadata.finalizers, [FINALIZER]);
    const v6 = await statusOf('v6', { total: 2 ** 48, allocated: 0 });
    assert.equal(v6.metadata.labels?.['ipam.spidernet.io/ippool-cidr'], 'fd00-80---64');
    await statusOf('empty', { total: 0, allocated: 0 });
  });

  it('follows allocation records written by agents and spec edits', async () => {
    await writeRecords('v4', {
      '10.80.0.10': { pod: 'ns/a', podUid: 'a' },
      '10.80.0.11': { pod: 'ns/b', podUid: 'b' },
      '10.80.0.12': { pod: 'ns/c', podUid: 'c' },
    });
    await statusOf('v4', { total: 345, allocated: 3 });
    await custom.patchClusterCustomObject({
      ...api(PREFIX + 'v4'),
      body: [{ op: 'replace', path: '/spec/excludeIPs', value: [] }],
    });
    await statusOf('v4', { total: 356, allocated: 3 });
  });

  it('keeps a deleted pool until its last allocation is released', async () => {
    await createPool('doomed', { ipVersion: 4, subnet: '10.82.0.0/24', ips: ['10.82.0.2-10.82.0.9'] });
    await statusOf('doomed', { total: 8, allocated: 0 });
    await writeRecords('doomed', { '10.82.0.2': { pod: 'ns/a', podUid: 'a' } });
    await statusOf('doomed', { total: 8, allocated: 1 });
    await custom.deleteClusterCustomObject(api(PREFIX + 'doomed'));
    await new Promise((r) => setTimeout(r, 2000));
    const held = await readPool('doomed');
    assert.ok(held.metadata.deletionTimestamp, 'the pool is terminating');
    assert.deepEqual(held.metadata.finalizers, [FINALIZER]);
    await writeRecords('doomed', {});
    await eventually('the released pool to disappear', 30_000, async () => {
      try {
        await readPool('doomed');
        return undefined;
      } catch (err) {
        return isNotFound(err) ? true : undefined;
      }
    });
  });

  it('serves per-pool gauges equal to `kubectl get sp`', async () => {
    // A cache of its own: kubectl's shared discovery cache may describe an earlier cluster on the same port.
    const stdout = await kubectlOk(c.kubectl, ['--cache-dir', join(c.cp.dir, 'kubectl-cache-ippool'), 'get', 'sp']);
    const { header, rows } = table(stdout);
    const col = (name: string) => header.indexOf(name);
    const mine = rows.filter((r) => r[0]!.startsWith(PREFIX));
    assert.equal(mine.length, 3, stdout);
    const res = await fetch(`http://127.0.0.1:${operator.metricsPort}/metrics`);
    assert.equal(res.status, 200);
    const text = await res.text();
    const gauge = (metric: string, pool: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${metric}{SpiderIPPool="${pool}"}`));
      assert.ok(line, `${metric} for ${pool} is exported`);
      return Number(line.split(' ')[1]);
    };
    for (const row of mine) {
      const [name, total, allocated] = [
        row[0]!,
        Number(row[col('TOTAL-IP-COUNT')]),
        Number(row[col('ALLOCATED-IP-COUNT')]),
      ];
      assert.equal(gauge('spiderpool_debug_ippool_total_ip_counts', name), total, `total of ${name}`);
      assert.equal(gauge('spiderpool_debug_ippool_allocated_ip_counts', name), allocated, `allocated of ${name}`);
      assert.equal(
        gauge('spiderpool_debug_ippool_available_ip_counts', name),
        total - allocated,
        `available of ${name}`,
      );
    }
    assert.match(text, /spiderpool_controller_reconcile_total\{controller="ippool",result="success"\} [1-9]/);
    assert.match(text, /spiderpool_controller_leader 1/);
  });

  it('flags pools created together over the same addresses: a Warning event on each naming the other, and a gauge', async () => {
    await Promise.all([
      createPool('overlap-a', { ipVersion: 4, subnet: '10.83.0.0/24', ips: ['10.83.0.10-10.83.0.20'] }),
      createPool('overlap-b', { ipVersion: 4, subnet: '10.83.0.0/24', ips: ['10.83.0.15-10.83.0.30'] }),
    ]);
    const core = c.kubeConfig.makeApiClient(CoreV1Api);
    for (const [pool, other] of [
      ['overlap-a', 'overlap-b'],
      ['overlap-b', 'overlap-a'],
    ]) {
      const event = await eventually(`the overlap event of ${pool}`, 30_000, async () =>
        (
          await core.listNamespacedEvent({
            namespace: 'default',
            fieldSelector: `involvedObject.name=${PREFIX}${pool}`,
          })
        ).items.find((e) => e.reason === 'OverlappingIPPool'),
      );
      assert.equal(event.type, 'Warning');
      assert.equal(event.involvedObject.kind, 'SpiderIPPool');
      assert.match(
        event.message ?? '',
        new RegExp(`IPs 10\\.83\\.0\\.15-10\\.83\\.0\\.20 are also in SpiderIPPool ${PREFIX}${other}`),
      );
    }
    const text = await (await fetch(`http://127.0.0.1:${operator.metricsPort}/metrics`)).text();
    assert.match(text, new RegExp(`spiderpool_ippool_overlaps\\{SpiderIPPool="${PREFIX}overlap-a"\\} 1`));
    assert.match(text, new RegExp(`spiderpool_ippool_overlaps\\{SpiderIPPool="${PREFIX}v4"\\} 0`));
  });
});
