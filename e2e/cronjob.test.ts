// A CronJob's auto-created pool end to end: the operator's application, subnet and IPPool controllers and the
// garbage collector, with real agents and the kubelet stand-in, each daemon as its installed service account. The
// CronJob is suspended and the test starts its Jobs as the CronJob controller does (from the jobTemplate, with a
// controller owner reference to the CronJob), without waiting for a schedule.
import assert from 'node:assert/strict';
import { BatchV1Api, CoreV1Api, CustomObjectsApi, type V1Job, type V1Pod } from '@kubernetes/client-node';
import type { SpiderIPPool } from '../api/v2beta1/types.ts';
import { GROUP, VERSION } from '../api/v2beta1/constants.ts';
import { IPSet, parseIP } from '../lib/ip/index.ts';
import { createGarbageCollector } from '../operator/gc/reconciler.ts';
import { createIPPoolReconciler } from '../operator/ippool/reconciler.ts';
import type { RunningOperator } from '../operator/runtime/types.ts';
import { createAutoPoolReconciler } from '../operator/subnet/auto-pool-reconciler.ts';
import { createSubnetStatusReconciler } from '../operator/subnet/subnet-status-reconciler.ts';
import { kubectlOk } from './cluster/kubectl.ts';
import { testCluster, type TestCluster } from './harness/cluster.ts';
import { installedGcOptions, installedIdentities, type InstalledIdentities } from './harness/installed-identities.ts';
import { startNodeSide, type NodeSide } from './harness/nodes.ts';
import { runOperator } from './harness/operator.ts';
import { eventually } from './harness/wait.ts';

const NS = 'cronjob-e2e';
const NODE = 'cronjob-w1';
const SUBNET = 'cronjob-subnet';

describe('CronJob auto-created pools', function () {
  this.timeout(300_000);
  let c: TestCluster;
  let nodes: NodeSide | undefined;
  let op: RunningOperator | undefined;
  let core: CoreV1Api;
  let batch: BatchV1Api;
  let custom: CustomObjectsApi;
  let identities: InstalledIdentities | undefined;

  const poolsOf = async (kind: string, name: string) =>
    (
      (await custom.listClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: 'spiderippools',
        labelSelector: `ipam.spidernet.io/owner-application-namespace=${NS},ipam.spidernet.io/owner-application-kind=${kind},ipam.spidernet.io/owner-application-name=${name}`,
      })) as { items: SpiderIPPool[] }
    ).items;
  const size = (pool: SpiderIPPool) => Number(IPSet.fromRanges(pool.spec.ips ?? [], 4).count());
  const poolSized = (n: number) =>
    eventually(`the CronJob's pool with ${n} addresses`, 120_000, async () => {
      const [pool, ...more] = await poolsOf('CronJob', 'backup');
      assert.equal(more.length, 0, 'one pool for the CronJob');
      return pool && size(pool) === n ? pool : undefined;
    });
  const runningPods = (count: number) =>
    eventually(`${count} running pods of the CronJob's Jobs`, 120_000, async () => {
      const pods = (await core.listNamespacedPod({ namespace: NS })).items.filter(
        (p: V1Pod) => p.status?.phase === 'Running' && p.status.podIP && !p.metadata?.deletionTimestamp,
      );
      return pods.length === count ? pods : undefined;
    });

  before(async () => {
    c = await testCluster();
    core = c.kubeConfig.makeApiClient(CoreV1Api);
    batch = c.kubeConfig.makeApiClient(BatchV1Api);
    custom = c.kubeConfig.makeApiClient(CustomObjectsApi);
    await kubectlOk(c.kubectl, ['create', 'namespace', NS]);
    await custom.createClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: 'spidersubnets',
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'SpiderSubnet',
        metadata: { name: SUBNET },
        spec: { ipVersion: 4, subnet: '10.251.0.0/24', ips: ['10.251.0.10-10.251.0.100'] },
      },
    });
    identities = await installedIdentities(c);
    nodes = await startNodeSide({
      kubeConfig: c.kubeConfig,
      kubeconfigPath: identities.agentKubeconfig,
      nodes: [NODE],
      agentEnv: identities.agentEnv,
    });
    const gc = installedGcOptions({ SPIDERPOOL_GC_DEFAULT_INTERVAL_DURATION: '1' });
    op = await runOperator(
      identities.controllerKubeConfig,
      [
        createAutoPoolReconciler,
        createSubnetStatusReconciler,
        createIPPoolReconciler,
        (ctx) => createGarbageCollector(ctx, gc),
      ],
      identities.lease,
    );
  });

  after(async () => {
    await c?.kubectl(['delete', 'cronjobs,jobs', '--all', '-n', NS, '--wait=false']);
    await c?.kubectl(['delete', 'pods', '--all', '-n', NS, '--force', '--grace-period=0']);
    await eventually('the CronJob pools gone', 60_000, async () =>
      (await poolsOf('CronJob', 'backup')).length === 0 ? true : undefined,
    ).catch((err: unknown) => console.error(String(err)));
    await op?.stop();
    await nodes?.stop();
    await c?.kubectl(['delete', 'node', NODE, '--wait=false']);
    await c?.kubectl(['delete', 'namespace', NS, '--wait=false']);
    await c?.kubectl(['delete', 'spidersubnets', SUBNET, '--wait=false']);
    identities?.cleanup();
  });

  it('one pool sized by completions, drawn from by every Job, resized with the CronJob and deleted with it', async () => {
    await kubectlOk(c.kubectl, ['apply', '-n', NS, '-f', '-'], {
      stdin: JSON.stringify({
        apiVersion: 'batch/v1beta1',
        kind: 'CronJob',
        metadata: { name: 'backup' },
        spec: {
          schedule: '0 0 1 1 *',
          suspend: true,
          jobTemplate: {
            spec: {
              parallelism: 2,
              completions: 3,
              template: {
                metadata: {
                  annotations: {
                    'ipam.spidernet.io/subnet': JSON.stringify({ ipv4: [SUBNET] }),
                    'ipam.spidernet.io/ippool-ip-number': '+1',
                  },
                },
                spec: {
                  restartPolicy: 'Never',
                  nodeSelector: { 'kubernetes.io/hostname': NODE },
                  terminationGracePeriodSeconds: 0,
                  containers: [{ name: 'backup', image: 'busybox' }],
                },
              },
            },
          },
        },
      }),
    });
    // completions (3) wins over parallelism (2), plus the one spare address of "+1".
    const pool = await poolSized(4);
    assert.equal(pool.metadata.labels?.['ipam.spidernet.io/owner-application-gv'], 'batch_v1');

    const cronJob = JSON.parse(await kubectlOk(c.kubectl, ['get', 'cronjob', 'backup', '-n', NS, '-o', 'json'])) as {
      apiVersion: string;
      metadata: { uid: string };
      spec: { jobTemplate: { spec: V1Job['spec'] } };
    };
    for (const name of ['backup-1', 'backup-2']) {
      await batch.createNamespacedJob({
        namespace: NS,
        body: {
          metadata: {
            name,
            ownerReferences: [
              {
                apiVersion: cronJob.apiVersion,
                kind: 'CronJob',
                name: 'backup',
                uid: cronJob.metadata.uid,
                controller: true,
                blockOwnerDeletion: true,
              },
            ],
          },
          spec: cronJob.spec.jobTemplate.spec,
        },
      });
    }
    const pods = await runningPods(4);
    const ips = IPSet.fromRanges(pool.spec.ips ?? [], 4);
    for (const pod of pods)
      assert.ok(
        ips.contains(parseIP(pod.status?.podIP as string).value),
        `${pod.metadata?.name} from ${pool.metadata.name}`,
      );
    assert.deepEqual(await poolsOf('Job', 'backup-1'), [], 'no pool of its own for a Job of the CronJob');
    assert.deepEqual(await poolsOf('Job', 'backup-2'), []);
    const used = (await poolSized(4)).status?.allocatedIPCount;
    assert.equal(used, 4);

    await kubectlOk(c.kubectl, [
      'patch',
      'cronjob',
      'backup',
      '-n',
      NS,
      '--type=merge',
      '-p',
      '{"spec":{"jobTemplate":{"spec":{"completions":5}}}}',
    ]);
    const grown = await poolSized(6);
    assert.equal(grown.metadata.name, pool.metadata.name);

    await batch.deleteNamespacedJob({ namespace: NS, name: 'backup-1', propagationPolicy: 'Background' });
    await kubectlOk(c.kubectl, ['delete', 'cronjob', 'backup', '-n', NS, '--cascade=true', '--wait=false']);
    await eventually('the CronJob pool deleted with the CronJob', 120_000, async () =>
      (await poolsOf('CronJob', 'backup')).length === 0 ? true : undefined,
    );
  });
});
