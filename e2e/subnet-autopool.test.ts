// SpiderSubnet auto-created pools end to end: the operator's application and subnet controllers (with the
// IPPool controller, which holds a pool until its addresses are released) against the real apiserver and
// controller-manager. The scaling test runs real nodes: pods get their addresses from the auto pool
// through the agent and the CNI plugin, and scaling down waits for pods to release theirs.
import assert from 'node:assert/strict';
import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type V1Deployment,
  type V1Pod,
} from '@kubernetes/client-node';
import type { SpiderIPPool, SpiderSubnet } from '../api/v2beta1/types.ts';
import { FINALIZER, GROUP, VERSION } from '../api/v2beta1/constants.ts';
import { IPSet, parseIP } from '../lib/ip/index.ts';
import { isConflict, isNotFound, loadKubeConfig } from '../lib/kube.ts';
import { createIPPoolReconciler } from '../operator/ippool/reconciler.ts';
import type { RunningOperator } from '../operator/runtime/types.ts';
import { createAutoPoolReconciler } from '../operator/subnet/auto-pool-reconciler.ts';
import type { Application, AutoPoolRequest } from '../operator/subnet/application.ts';
import { parseControlledPools } from '../operator/subnet/controlled-pools.ts';
import { AutoPoolWriter } from '../operator/subnet/ensure-auto-pool.ts';
import { createSubnetStatusReconciler } from '../operator/subnet/subnet-status-reconciler.ts';
import { kubectlOk } from './cluster/kubectl.ts';
import { testCluster, type TestCluster } from './harness/cluster.ts';
import { startNodeSide, type NodeSide } from './harness/nodes.ts';
import { runOperator } from './harness/operator.ts';
import { table } from './harness/table.ts';
import { eventually, inBatches } from './harness/wait.ts';

const NS = 'subnet-autopool';
const NODES = ['autopool-w1', 'autopool-w2'];
const SUBNETS = {
  scale: { name: 'autopool-scale', subnet: '10.120.0.0/24', ips: ['10.120.0.10-10.120.0.200'], gateway: '10.120.0.1' },
  keep: { name: 'autopool-keep', subnet: '10.121.0.0/24', ips: ['10.121.0.10-10.121.0.20'] },
  many: {
    name: 'autopool-many',
    subnet: '10.122.0.0/24',
    ips: ['10.122.0.2-10.122.0.253'],
    excludeIPs: ['10.122.0.100-10.122.0.109'],
  },
  small: { name: 'autopool-small', subnet: '10.123.0.0/24', ips: ['10.123.0.10-10.123.0.13'] },
  kinds: { name: 'autopool-kinds', subnet: '10.124.0.0/24', ips: ['10.124.0.10-10.124.0.100'] },
};
/** Created by its own test, with the finalizer the admission webhook would add. */
const MANUAL_SUBNET = {
  name: 'autopool-manual',
  subnet: '10.126.0.0/24',
  ips: ['10.126.0.10-10.126.0.100'],
  gateway: '10.126.0.1',
};

const annotations = (subnet: string, extra: Record<string, string> = {}): Record<string, string> => ({
  'ipam.spidernet.io/subnet': JSON.stringify({ ipv4: [subnet] }),
  ...extra,
});

/** Pods that stay Pending: no node has this label, so they never hold addresses. */
const UNSCHEDULABLE = { nodeSelector: { 'autopool-e2e': 'nowhere' } };
/** Pods that run on this test's nodes. */
const ON_OUR_NODES = {
  affinity: {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: NODES }] }],
      },
    },
  },
};

function deployment(
  name: string,
  replicas: number,
  podAnnotations: Record<string, string>,
  placement: object = UNSCHEDULABLE,
): V1Deployment {
  return {
    metadata: { name, namespace: NS },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name }, annotations: podAnnotations },
        spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'c', image: 'nginx' }], ...placement },
      },
    },
  };
}

describe('SpiderSubnet auto-created pools', function () {
  this.timeout(600_000);
  let c: TestCluster;
  let op: RunningOperator | undefined;
  let nodes: NodeSide | undefined;
  let core: CoreV1Api;
  let apps: AppsV1Api;
  let batch: BatchV1Api;
  let custom: CustomObjectsApi;

  const subnet = async (name: string) =>
    (await custom.getClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: 'spidersubnets',
      name,
    })) as SpiderSubnet;
  const poolsOf = async (app: string, kind = 'Deployment'): Promise<SpiderIPPool[]> => {
    const labelSelector = `ipam.spidernet.io/owner-application-namespace=${NS},ipam.spidernet.io/owner-application-name=${app},ipam.spidernet.io/owner-application-kind=${kind}`;
    return (
      (await custom.listClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: 'spiderippools',
        labelSelector,
      })) as { items: SpiderIPPool[] }
    ).items;
  };
  const ipsOf = (pool: SpiderIPPool) => IPSet.fromRanges(pool.spec.ips ?? [], 4);
  /** The application's single pool once it holds `size` addresses and the subnet's ledger records exactly them. */
  const poolSized = (app: string, size: number, kind = 'Deployment') =>
    eventually(`the auto pool of ${kind} ${app} with ${size} IPs`, 120_000, async () => {
      const [pool, ...more] = await poolsOf(app, kind);
      assert.equal(more.length, 0, `${app} has one pool`);
      if (!pool || ipsOf(pool).count() !== BigInt(size)) return undefined;
      const owner = pool.metadata.labels?.['ipam.spidernet.io/owner-spider-subnet'] ?? '';
      const entry = parseControlledPools(await subnet(owner)).get(pool.metadata.name);
      return entry && IPSet.fromRanges(entry.ips, 4).equals(ipsOf(pool)) ? pool : undefined;
    });
  const gone = (app: string, kind = 'Deployment') =>
    eventually(`the auto pools of ${kind} ${app} to be deleted`, 120_000, async () =>
      (await poolsOf(app, kind)).length === 0 ? true : undefined,
    );
  const runningPods = (app: string, count: number) =>
    eventually(`${count} running pods of ${app}`, 120_000, async () => {
      const pods = (await core.listNamespacedPod({ namespace: NS, labelSelector: `app=${app}` })).items;
      const running = pods.filter((p) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp);
      return running.length === count && pods.length === count ? running : undefined;
    });
  const ipOf = (pod: V1Pod) => parseIP(pod.status?.podIP ?? '').value;
  const scale = (name: string, replicas: number) =>
    kubectlOk(c.kubectl, ['scale', '-n', NS, 'deployment', name, '--replicas', String(replicas)]);
  const deleteDeployment = async (name: string) => {
    await apps.deleteNamespacedDeployment({ namespace: NS, name }).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
  };

  before(async function () {
    this.timeout(300_000);
    c = await testCluster();
    core = c.kubeConfig.makeApiClient(CoreV1Api);
    apps = c.kubeConfig.makeApiClient(AppsV1Api);
    batch = c.kubeConfig.makeApiClient(BatchV1Api);
    custom = c.kubeConfig.makeApiClient(CustomObjectsApi);
    await kubectlOk(c.kubectl, ['create', 'namespace', NS]);
    for (const { name, ...spec } of Object.values(SUBNETS)) {
      await custom.createClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: 'spidersubnets',
        body: {
          apiVersion: `${GROUP}/${VERSION}`,
          kind: 'SpiderSubnet',
          metadata: { name },
          spec: { ipVersion: 4, ...spec },
        },
      });
    }
    // Its own connections, as in its own process.
    op = await runOperator(loadKubeConfig(c.cp.kubeconfig), [
      createAutoPoolReconciler,
      createSubnetStatusReconciler,
      createIPPoolReconciler,
    ]);
    nodes = await startNodeSide({ kubeConfig: c.kubeConfig, kubeconfigPath: c.cp.kubeconfig, nodes: NODES });
  });

  after(async function () {
    this.timeout(300_000);
    if (!c) return;
    await c.kubectl(['delete', 'deployments,statefulsets,daemonsets,jobs', '--all', '-n', NS, '--wait=false']);
    // Kept pools outlive their applications by design; the test removes them itself.
    await c.kubectl(['delete', 'spiderippools', '-l', 'ipam.spidernet.io/ippool-reclaim=false', '--wait=false']);
    await eventually('the auto pools of the test to be gone', 120_000, async () => {
      const left = (await custom.listClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: 'spiderippools',
        labelSelector: `ipam.spidernet.io/owner-application-namespace=${NS}`,
      })) as { items: SpiderIPPool[] };
      return left.items.length === 0 ? true : undefined;
    }).catch((err: unknown) => console.error(String(err)));
    await nodes?.stop();
    await op?.stop();
    await c.kubectl(['delete', 'namespace', NS, '--wait=false']);
    await c.kubectl(['delete', 'spidersubnets', ...Object.values(SUBNETS).map((s) => s.name), '--wait=false']);
    await c.kubectl(['delete', 'spiderippools', 'manual-126', '--ignore-not-found', '--wait=false']);
    await c.kubectl([
      'patch',
      'spidersubnets',
      MANUAL_SUBNET.name,
      '--type=merge',
      '-p',
      '{"metadata":{"finalizers":null}}',
    ]);
  });

  it('a Deployment with ippool-ip-number "+1" gets replicas+1 addresses that follow scale 2 → 5 → 1, its pods use them, and the pool goes with the Deployment', async () => {
    const name = 'web';
    await apps.createNamespacedDeployment({
      namespace: NS,
      body: deployment(
        name,
        2,
        annotations(SUBNETS.scale.name, { 'ipam.spidernet.io/ippool-ip-number': '+1' }),
        ON_OUR_NODES,
      ),
    });
    let pool = await poolSized(name, 3);
    assert.match(pool.metadata.name, /^auto4-web-eth0-[0-9a-f]{5}$/);
    assert.deepEqual(pool.spec.ips, ['10.120.0.10-10.120.0.12'], 'the lowest free addresses of the subnet');
    assert.equal(pool.spec.gateway, '10.120.0.1');
    assert.equal(pool.metadata.annotations?.['ipam.spidernet.io/ippool-ip-number'], '+1');
    const d = await apps.readNamespacedDeployment({ namespace: NS, name });
    assert.equal(pool.metadata.labels?.['ipam.spidernet.io/owner-application-uid'], d.metadata?.uid);
    let pods = await runningPods(name, 2);
    for (const p of pods) assert.ok(ipsOf(pool).contains(ipOf(p)), `${p.status?.podIP} is in ${pool.metadata.name}`);

    await scale(name, 5);
    pool = await poolSized(name, 6);
    pods = await runningPods(name, 5);
    for (const p of pods) assert.ok(ipsOf(pool).contains(ipOf(p)), `${p.status?.podIP} is in ${pool.metadata.name}`);
    const ss = table(await kubectlOk(c.kubectl, ['get', 'spidersubnets', SUBNETS.scale.name]));
    assert.equal(ss.rows[0]?.[ss.header.indexOf('ALLOCATED-IP-COUNT')], '6');
    assert.equal(ss.rows[0]?.[ss.header.indexOf('TOTAL-IP-COUNT')], '191');

    // Four pods go; the pool shrinks once their addresses are released, and keeps the survivor's.
    await scale(name, 1);
    pool = await poolSized(name, 2);
    const [survivor] = await runningPods(name, 1);
    assert.ok(survivor && ipsOf(pool).contains(ipOf(survivor)), 'the remaining pod keeps its address');

    await deleteDeployment(name);
    await gone(name);
    await eventually('the ledger of the subnet to be empty', 60_000, async () => {
      const s = await subnet(SUBNETS.scale.name);
      return s.status?.allocatedIPCount === 0 && parseControlledPools(s).size === 0 ? true : undefined;
    });
    const metrics = await op!.registry.metrics();
    assert.match(metrics, /spiderpool_debug_subnet_total_ip_counts\{SpiderSubnet="autopool-scale"\} 191/);
    assert.match(metrics, /spiderpool_debug_subnet_available_ip_counts\{SpiderSubnet="autopool-scale"\} 191/);
  });

  it('with ippool-reclaim "false" the pool outlives the Deployment, and a new Deployment of the same name takes it over with the same addresses', async () => {
    const name = 'keeper';
    const keep = annotations(SUBNETS.keep.name, {
      'ipam.spidernet.io/ippool-reclaim': 'false',
      'ipam.spidernet.io/ippool-ip-number': '+1',
    });
    await apps.createNamespacedDeployment({ namespace: NS, body: deployment(name, 2, keep) });
    const first = await poolSized(name, 3);
    assert.equal(first.metadata.labels?.['ipam.spidernet.io/ippool-reclaim'], 'false');
    const firstUid = first.metadata.labels?.['ipam.spidernet.io/owner-application-uid'];

    await deleteDeployment(name);
    await eventually('the Deployment to be gone', 60_000, async () =>
      (await apps.listNamespacedDeployment({ namespace: NS })).items.some((x) => x.metadata?.name === name)
        ? undefined
        : true,
    );
    // Long enough for the controller to have reacted to the deletion.
    await new Promise((r) => setTimeout(r, 3000));
    const [kept, ...others] = await poolsOf(name);
    assert.equal(others.length, 0);
    assert.equal(kept?.metadata.name, first.metadata.name, 'the pool stays');
    assert.equal(
      kept?.metadata.labels?.['ipam.spidernet.io/owner-application-uid'],
      firstUid,
      'still pinned to the old application',
    );
    assert.ok(
      parseControlledPools(await subnet(SUBNETS.keep.name)).has(first.metadata.name),
      'the subnet keeps its reservation',
    );

    await apps.createNamespacedDeployment({ namespace: NS, body: deployment(name, 2, keep) });
    const d = await apps.readNamespacedDeployment({ namespace: NS, name });
    const taken = await eventually('the kept pool taken over', 60_000, async () => {
      const [p] = await poolsOf(name);
      return p?.metadata.labels?.['ipam.spidernet.io/owner-application-uid'] === d.metadata?.uid ? p : undefined;
    });
    assert.equal(taken.metadata.name, first.metadata.name);
    assert.deepEqual(taken.spec.ips, first.spec.ips, 'same addresses after re-deploy');

    // Switching reclaim back on makes the pool go with the Deployment.
    await apps.patchNamespacedDeployment({
      namespace: NS,
      name,
      body: [
        { op: 'replace', path: '/spec/template/metadata/annotations/ipam.spidernet.io~1ippool-reclaim', value: 'true' },
      ],
    });
    await eventually('the reclaim label to follow', 60_000, async () =>
      (await poolsOf(name))[0]?.metadata.labels?.['ipam.spidernet.io/ippool-reclaim'] === 'true' ? true : undefined,
    );
    await deleteDeployment(name);
    await gone(name);
  });

  it('twelve Deployments created at once from one subnet get disjoint pools that avoid its excludeIPs', async () => {
    const names = Array.from({ length: 12 }, (_, i) => `burst-${i}`);
    const replicas = (i: number) => 1 + (i % 3);
    /** Every burst pool, once each holds its size and the ledger records exactly its addresses. */
    const burstPools = (size: (i: number) => number) =>
      eventually('every burst Deployment to have its pool', 120_000, async () => {
        const labelSelector = `ipam.spidernet.io/owner-application-namespace=${NS},ipam.spidernet.io/owner-spider-subnet=${SUBNETS.many.name}`;
        const all = (
          (await custom.listClusterCustomObject({
            group: GROUP,
            version: VERSION,
            plural: 'spiderippools',
            labelSelector,
          })) as { items: SpiderIPPool[] }
        ).items;
        const ledger = parseControlledPools(await subnet(SUBNETS.many.name));
        const pools = names.map((name) =>
          all.filter((p) => p.metadata.labels?.['ipam.spidernet.io/owner-application-name'] === name),
        );
        const ready = pools.every((own, i) => {
          const entry = own[0] && ledger.get(own[0].metadata.name);
          return (
            own.length === 1 &&
            ipsOf(own[0]!).count() === BigInt(size(i)) &&
            entry &&
            IPSet.fromRanges(entry.ips, 4).equals(ipsOf(own[0]!))
          );
        });
        return ready ? pools.map((own) => own[0]!) : undefined;
      });
    await Promise.all(
      names.map((name, i) =>
        apps.createNamespacedDeployment({
          namespace: NS,
          body: deployment(
            name,
            replicas(i),
            annotations(SUBNETS.many.name, { 'ipam.spidernet.io/ippool-ip-number': '+3' }),
          ),
        }),
      ),
    );
    const pools = await burstPools((i) => replicas(i) + 3);
    let union = IPSet.empty(4);
    let total = 0n;
    for (const p of pools) {
      union = union.union(ipsOf(p));
      total += ipsOf(p).count();
    }
    assert.equal(union.count(), total, 'no address is in two pools');
    assert.ok(!union.overlaps(IPSet.fromRanges(['10.122.0.100-10.122.0.109'])), 'excludeIPs are never carved');
    const s = await subnet(SUBNETS.many.name);
    assert.equal(s.status?.allocatedIPCount, Number(total));
    assert.equal(parseControlledPools(s).size, 12);

    // Scaling them all at once keeps them disjoint.
    await inBatches(names, 4, (name) => scale(name, 6));
    const grown = await burstPools(() => 9);
    union = grown.reduce((u, p) => u.union(ipsOf(p)), IPSet.empty(4));
    assert.equal(union.count(), 12n * 9n, 'still no address in two pools');

    await Promise.all(names.map((name) => deleteDeployment(name)));
    await eventually('the burst pools to be deleted and the subnet to have every address back', 120_000, async () => {
      const s = await subnet(SUBNETS.many.name);
      return s.status?.allocatedIPCount === 0 && parseControlledPools(s).size === 0 ? true : undefined;
    });
    for (const name of names) assert.equal((await poolsOf(name)).length, 0, `${name} has no pool left`);
  });

  it('an exhausted subnet leaves a Warning event naming the subnet, the application and the count, and more addresses in the subnet end the wait', async () => {
    const name = 'hungry';
    await apps.createNamespacedDeployment({
      namespace: NS,
      body: deployment(name, 5, annotations(SUBNETS.small.name, { 'ipam.spidernet.io/ippool-ip-number': '+1' })),
    });
    const event = await eventually('a SubnetExhausted event', 60_000, async () => {
      const events = await core.listNamespacedEvent({
        namespace: NS,
        fieldSelector: `involvedObject.name=${name},reason=SubnetExhausted`,
      });
      return events.items[0];
    });
    assert.equal(event.type, 'Warning');
    assert.match(
      event.message ?? '',
      /SpiderSubnet "autopool-small" cannot supply apps\/v1 Deployment subnet-autopool\/hungry \(eth0 IPv4\): the pool needs 6 addresses \(5 replicas, ippool-ip-number \+1\), 6 more than it holds, but only 4 are free/,
    );
    assert.equal((await poolsOf(name)).length, 0, 'no partial pool');

    await custom.patchClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: 'spidersubnets',
      name: SUBNETS.small.name,
      body: [{ op: 'replace', path: '/spec/ips', value: ['10.123.0.10-10.123.0.20'] }],
    });
    const pool = await poolSized(name, 6);
    assert.deepEqual(pool.spec.ips, ['10.123.0.10-10.123.0.15']);
    await deleteDeployment(name);
    await gone(name);
  });

  it("a manual pool of the subnet's CIDR is adopted and counted, auto pools go around it, and a deleted subnet takes its pools along before letting go", async () => {
    const { name: subnetName, ...spec } = MANUAL_SUBNET;
    await custom.createClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: 'spidersubnets',
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'SpiderSubnet',
        metadata: { name: subnetName, finalizers: [FINALIZER] },
        spec: { ipVersion: 4, ...spec },
      },
    });
    await custom.createClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: 'spiderippools',
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'SpiderIPPool',
        metadata: { name: 'manual-126' },
        spec: { ipVersion: 4, subnet: '10.126.0.0/24', ips: ['10.126.0.10-10.126.0.19'] },
      },
    });
    const adopted = await eventually('the manual pool adopted', 60_000, async () => {
      const p = (await custom.getClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: 'spiderippools',
        name: 'manual-126',
      })) as SpiderIPPool;
      return p.metadata.labels?.['ipam.spidernet.io/owner-spider-subnet'] === subnetName ? p : undefined;
    });
    assert.equal(adopted.metadata.ownerReferences?.find((r) => r.controller)?.name, subnetName);
    assert.equal(adopted.spec.gateway, '10.126.0.1', 'the gateway is inherited');
    const labelled = await subnet(subnetName);
    assert.equal(labelled.metadata.labels?.['ipam.spidernet.io/subnet-cidr'], '10-126-0-0-24');

    await apps.createNamespacedDeployment({ namespace: NS, body: deployment('around', 1, annotations(subnetName)) });
    const pool = await poolSized('around', 2);
    assert.deepEqual(pool.spec.ips, ['10.126.0.20-10.126.0.21'], "the manual pool's addresses are skipped");
    const counted = await eventually('the subnet to count both pools', 60_000, async () => {
      const s = await subnet(subnetName);
      return s.status?.allocatedIPCount === 12 ? s : undefined;
    });
    assert.equal(counted.status?.totalIPCount, 91);
    assert.deepEqual(parseControlledPools(counted).get('manual-126'), { ips: ['10.126.0.10-10.126.0.19'] });

    await custom.deleteClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: 'spidersubnets',
      name: subnetName,
    });
    await eventually('the subnet and its pools to be gone', 120_000, async () => {
      const left = (await custom.listClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: 'spiderippools',
        labelSelector: `ipam.spidernet.io/owner-spider-subnet=${subnetName}`,
      })) as { items: SpiderIPPool[] };
      const s = await subnet(subnetName).catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err)));
      return left.items.length === 0 && s === undefined ? true : undefined;
    });
    await deleteDeployment('around');
  });

  it('a DaemonSet gets a pool sized by the nodes it runs on, and its pods take their addresses from it', async () => {
    await apps.createNamespacedDaemonSet({
      namespace: NS,
      body: {
        metadata: { name: 'agent' },
        spec: {
          selector: { matchLabels: { app: 'agent' } },
          template: {
            metadata: { labels: { app: 'agent' }, annotations: annotations(SUBNETS.kinds.name) },
            spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'c', image: 'agent' }], ...ON_OUR_NODES },
          },
        },
      },
    });
    const pool = await poolSized('agent', NODES.length + 1, 'DaemonSet');
    const pods = await runningPods('agent', NODES.length);
    for (const p of pods) assert.ok(ipsOf(pool).contains(ipOf(p)), `${p.status?.podIP} is in ${pool.metadata.name}`);
    await apps.deleteNamespacedDaemonSet({ namespace: NS, name: 'agent' });
    await gone('agent', 'DaemonSet');
  });

  it('StatefulSets and Jobs get pools sized by replicas and by the Job formula, a fixed number ignores replicas, and an unreadable ledger is rebuilt from the pools', async () => {
    await apps.createNamespacedStatefulSet({
      namespace: NS,
      body: {
        metadata: { name: 'db' },
        spec: {
          serviceName: 'db',
          replicas: 3,
          selector: { matchLabels: { app: 'db' } },
          template: {
            metadata: {
              labels: { app: 'db' },
              annotations: annotations(SUBNETS.kinds.name, { 'ipam.spidernet.io/ippool-ip-number': '2' }),
            },
            spec: { containers: [{ name: 'c', image: 'db' }], ...UNSCHEDULABLE },
          },
        },
      },
    });
    await batch.createNamespacedJob({
      namespace: NS,
      body: {
        metadata: { name: 'batch' },
        spec: {
          parallelism: 2,
          completions: 4,
          template: {
            metadata: { annotations: annotations(SUBNETS.kinds.name) },
            spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'job' }], ...UNSCHEDULABLE },
          },
        },
      },
    });
    const db = await poolSized('db', 2, 'StatefulSet');
    assert.equal(db.metadata.labels?.['ipam.spidernet.io/owner-application-gv'], 'apps_v1');
    const job = await poolSized('batch', 5, 'Job');
    assert.equal(job.metadata.labels?.['ipam.spidernet.io/owner-application-gv'], 'batch_v1');
    assert.equal(job.spec.podAffinity?.matchLabels?.['ipam.spidernet.io/app-api-group'], 'batch');
    assert.ok(!ipsOf(db).overlaps(ipsOf(job)));

    // A ledger that cannot be read is replaced by what the pools hold.
    const dirty = await subnet(SUBNETS.kinds.name);
    await custom.replaceClusterCustomObjectStatus({
      group: GROUP,
      version: VERSION,
      plural: 'spidersubnets',
      name: SUBNETS.kinds.name,
      body: { ...dirty, status: { ...dirty.status, controlledIPPools: '{not json' } },
    });
    const repaired = await eventually('the ledger to be rebuilt', 60_000, async () => {
      try {
        const ledger = parseControlledPools(await subnet(SUBNETS.kinds.name));
        return ledger.size === 2 ? ledger : undefined;
      } catch {
        return undefined;
      }
    });
    assert.deepEqual(repaired.get(db.metadata.name), {
      ips: db.spec.ips,
      application: 'apps_v1_StatefulSet_subnet-autopool_db',
    });
    assert.deepEqual(repaired.get(job.metadata.name), {
      ips: job.spec.ips,
      application: 'batch_v1_Job_subnet-autopool_batch',
    });

    await apps.deleteNamespacedStatefulSet({ namespace: NS, name: 'db' });
    await batch.deleteNamespacedJob({ namespace: NS, name: 'batch', propagationPolicy: 'Background' });
    await eventually('the StatefulSet and Job pools to be deleted', 120_000, async () =>
      (await poolsOf('db', 'StatefulSet')).length + (await poolsOf('batch', 'Job')).length === 0 ? true : undefined,
    );
  });
});

// The ledger on its own: many writers carve from one subnet at the same moment, with no cache and no
// controller to keep them apart, as several operator workers (or a new leader still finishing an old
// leader's writes) would.
describe('SpiderSubnet ledger under racing carvers', function () {
  this.timeout(300_000);
  const RACE_SUBNET = 'autopool-race';
  let c: TestCluster;
  let custom: CustomObjectsApi;
  const subnet = async (name: string) =>
    (await custom.getClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: 'spidersubnets',
      name,
    })) as SpiderSubnet;
  const ipsOf = (pool: SpiderIPPool) => IPSet.fromRanges(pool.spec.ips ?? [], 4);

  before(async function () {
    this.timeout(300_000);
    c = await testCluster();
    custom = c.kubeConfig.makeApiClient(CustomObjectsApi);
    await custom.createClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: 'spidersubnets',
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'SpiderSubnet',
        metadata: { name: RACE_SUBNET },
        spec: { ipVersion: 4, subnet: '10.125.0.0/24', ips: ['10.125.0.1-10.125.0.254'] },
      },
    });
  });

  after(async () => {
    await c?.kubectl([
      'delete',
      'spiderippools',
      '-l',
      `ipam.spidernet.io/owner-spider-subnet=${RACE_SUBNET}`,
      '--wait=false',
    ]);
    await c?.kubectl(['delete', 'spidersubnets', RACE_SUBNET, '--wait=false']);
  });

  it('twenty carvers racing on one subnet, with no cache to warn them, never hand out an address twice: the ledger write decides', async () => {
    // Counts the ledger writes the apiserver refused because another writer got there first.
    let ledgerConflicts = 0;
    const counted = new Proxy(custom, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        if (prop !== 'replaceClusterCustomObjectStatus') return value.bind(target);
        return async (...args: unknown[]) => {
          try {
            return await value.apply(target, args);
          } catch (err) {
            if (isConflict(err)) ledgerConflicts++;
            throw err;
          }
        };
      },
    });
    const writer = new AutoPoolWriter(counted, { pools: () => [], reservedIPs: () => [] });
    // Applications that need not exist: no controller runs here, the writers are all there is.
    const racers: Application[] = Array.from({ length: 20 }, (_, i) => ({
      kind: 'Deployment',
      namespace: NS,
      name: `race-${i}`,
      uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      apiVersion: 'apps/v1',
      replicas: 3 + (i % 4),
      terminating: false,
    }));
    const request = (app: Application): AutoPoolRequest => ({
      nic: 'eth0',
      family: 4,
      subnet: RACE_SUBNET,
      size: app.replicas + 1,
      ipNumber: '+1',
      reclaim: false,
    });
    let conflicts = 0;
    const failures: string[] = [];
    const outcomes = await Promise.all(
      racers.map(async (app) => {
        // As the work queue would: a failure, or a conflict that outlasts the writer's own retries, is tried again.
        for (let attempt = 1; ; attempt++) {
          try {
            return await writer.ensure(app, request(app), undefined);
          } catch (err) {
            if (attempt >= 20) throw err;
            if (isConflict(err)) conflicts++;
            else failures.push(String(err));
          }
        }
      }),
    );
    assert.deepEqual(
      outcomes.map((o) => o.kind),
      racers.map(() => 'done'),
    );
    const pools = (
      (await custom.listClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: 'spiderippools',
        labelSelector: `ipam.spidernet.io/owner-spider-subnet=${RACE_SUBNET}`,
      })) as { items: SpiderIPPool[] }
    ).items;
    assert.equal(pools.length, 20);
    const union = pools.reduce((u, p) => u.union(ipsOf(p)), IPSet.empty(4));
    const total = racers.reduce((n, app) => n + app.replicas + 1, 0);
    assert.equal(union.count(), BigInt(total), 'the pools are disjoint and sized');
    const ledger = parseControlledPools(await subnet(RACE_SUBNET));
    for (const p of pools)
      assert.ok(
        IPSet.fromRanges(ledger.get(p.metadata.name)?.ips ?? [], 4).equals(ipsOf(p)),
        `the ledger records ${p.metadata.name}`,
      );
    assert.ok(ledgerConflicts > 0, 'the writers did collide on the ledger, so the test exercised the race');
    console.log(
      `      20 racing carvers: ${total} addresses in 20 disjoint pools; ${ledgerConflicts} refused ledger writes; ${conflicts} conflicts and ${failures.length} other failures retried by the caller${failures.length ? ` (${[...new Set(failures)].join('; ')})` : ''}`,
    );
  });
});
