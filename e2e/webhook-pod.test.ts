// The pod admission webhook against the real apiserver, controller-manager and scheduler: invalid pods are
// refused by `kubectl apply` with the annotation or field and the reason, and a Deployment whose pool
// serves one node is scheduled only onto that node through the injected node affinity.
import assert from 'node:assert/strict';
import { AppsV1Api, CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { GROUP, VERSION } from '../api/v2beta1/constants.ts';
import { createPodRoutes } from '../webhooks/pod/index.ts';
import { kubectlOk } from './cluster/kubectl.ts';
import { testCluster, type TestCluster } from './harness/cluster.ts';
import { eventually } from './harness/wait.ts';
import { runWebhooks, type RunningWebhooks } from './harness/webhooks.ts';
import { registerNode } from './kubelet/node.ts';

const NS = 'webhook-pod';
const NODES = ['worker1', 'worker2'];
const CONFIGURATION = 'spiderpool-pod-webhook-e2e';

interface PoolSpec {
  ipVersion: 4 | 6;
  subnet: string;
  ips: string[];
  [field: string]: unknown;
}

// Each pool in its own subnet: no CRD webhook runs in this file, so nothing else would keep them apart.
const POOLS: Record<string, PoolSpec> = {
  'wp-ok': { ipVersion: 4, subnet: '10.61.0.0/24', ips: ['10.61.0.10-10.61.0.20'] },
  'wp-disabled': { ipVersion: 4, subnet: '10.61.1.0/24', ips: ['10.61.1.10-10.61.1.20'], disable: true },
  'wp-v6': { ipVersion: 6, subnet: 'fd00:61::/64', ips: ['fd00:61::10-fd00:61::20'] },
  'wp-prod-only': { ipVersion: 4, subnet: '10.61.2.0/24', ips: ['10.61.2.10-10.61.2.20'], namespaceName: ['prod'] },
  'wp-team-red': {
    ipVersion: 4,
    subnet: '10.61.3.0/24',
    ips: ['10.61.3.10-10.61.3.20'],
    namespaceAffinity: { matchLabels: { team: 'red' } },
  },
  'wp-app-db': {
    ipVersion: 4,
    subnet: '10.61.4.0/24',
    ips: ['10.61.4.10-10.61.4.20'],
    podAffinity: { matchLabels: { app: 'db' } },
  },
  'wp-worker1': { ipVersion: 4, subnet: '10.61.5.0/24', ips: ['10.61.5.10-10.61.5.30'], nodeName: ['worker1'] },
  'wp-worker2': { ipVersion: 4, subnet: '10.61.6.0/24', ips: ['10.61.6.10-10.61.6.30'], nodeName: ['worker2'] },
  'wp-ipvlan': {
    ipVersion: 4,
    subnet: '10.61.7.0/24',
    ips: ['10.61.7.10-10.61.7.20'],
    multusName: ['kube-system/ipvlan-eth0'],
  },
  // Its only address is the gateway, so it has nothing to give.
  'wp-full': { ipVersion: 4, subnet: '10.61.8.0/24', ips: ['10.61.8.1'], gateway: '10.61.8.1' },
  'wp-two': { ipVersion: 4, subnet: '10.61.9.0/24', ips: ['10.61.9.10-10.61.9.11'] },
};

const ippool = (...v4: string[]) => ({ 'ipam.spidernet.io/ippool': JSON.stringify({ ipv4: v4 }) });

function podManifest(
  name: string,
  annotations: Record<string, string>,
  extra: { labels?: Record<string, string>; nodeName?: string } = {},
): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS, annotations, ...(extra.labels ? { labels: extra.labels } : {}) },
    spec: { containers: [{ name: 'c', image: 'nginx' }], ...(extra.nodeName ? { nodeName: extra.nodeName } : {}) },
  });
}

function deployment(name: string, replicas: number, annotations: Record<string, string>): string {
  return JSON.stringify({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NS },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name }, annotations },
        spec: { containers: [{ name: 'c', image: 'nginx' }] },
      },
    },
  });
}

/** Invalid pods: annotations (and fields), and what the denial must say besides the pod's name. */
const INVALID: {
  name: string;
  annotations: Record<string, string>;
  labels?: Record<string, string>;
  nodeName?: string;
  expect: RegExp[];
}[] = [
  {
    name: 'bad-json',
    annotations: { 'ipam.spidernet.io/ippool': '{"ipv4":["wp-ok"' },
    expect: [/annotation ipam\.spidernet\.io\/ippool is invalid: not valid JSON/],
  },
  {
    name: 'bad-unknown-pool',
    annotations: ippool('wp-missing'),
    expect: [/SpiderIPPool "wp-missing" named in annotation ipam\.spidernet\.io\/ippool does not exist/],
  },
  {
    name: 'bad-disabled',
    annotations: ippool('wp-disabled'),
    expect: [
      /SpiderIPPool "wp-disabled" \(annotation ipam\.spidernet\.io\/ippool, interface eth0, IPv4\) cannot serve the pod: disabled/,
    ],
  },
  {
    name: 'bad-ip-version',
    annotations: ippool('wp-v6'),
    expect: [/SpiderIPPool "wp-v6" .*IPv4\) cannot serve the pod: ipVersion is 6, not 4/],
  },
  {
    name: 'bad-namespace-name',
    annotations: ippool('wp-prod-only'),
    expect: [/"wp-prod-only" .*namespaceName \[prod\] does not include namespace webhook-pod/],
  },
  {
    name: 'bad-namespace-affinity',
    annotations: ippool('wp-team-red'),
    expect: [/"wp-team-red" .*namespaceAffinity "team=red" does not match the labels of namespace webhook-pod/],
  },
  {
    name: 'bad-pod-affinity',
    annotations: ippool('wp-app-db'),
    labels: { app: 'web' },
    expect: [/"wp-app-db" .*podAffinity "app=db" does not match the labels of the pod/],
  },
  {
    name: 'bad-node-name',
    annotations: ippool('wp-worker1'),
    nodeName: 'worker2',
    expect: [/"wp-worker1" .*nodeName \[worker1\] does not include node worker2/],
  },
  {
    name: 'bad-multus-name',
    annotations: {
      'k8s.v1.cni.cncf.io/networks': 'macvlan-ens192',
      'ipam.spidernet.io/ippools': JSON.stringify([{ interface: 'net1', ipv4: ['wp-ipvlan'] }]),
    },
    expect: [
      /SpiderIPPool "wp-ipvlan" \(annotation ipam\.spidernet\.io\/ippools \(item 0\), interface net1, IPv4\)/,
      /kube-system\/ipvlan-eth0/,
      /webhook-pod\/macvlan-ens192/,
    ],
  },
  {
    name: 'bad-ip-number',
    annotations: { 'ipam.spidernet.io/ippool-ip-number': '++2' },
    expect: [/annotation ipam\.spidernet\.io\/ippool-ip-number is invalid: "\+\+2" is neither "N"/],
  },
  {
    name: 'bad-reclaim',
    annotations: { 'ipam.spidernet.io/ippool-reclaim': 'maybe' },
    expect: [/annotation ipam\.spidernet\.io\/ippool-reclaim is invalid: "maybe" is not "true" or "false"/],
  },
  {
    name: 'bad-routes',
    annotations: { 'ipam.spidernet.io/routes': '[{"dst":"10.0.0.0/33","gw":"10.61.0.1"}]' },
    expect: [/annotation ipam\.spidernet\.io\/routes is invalid: route 0: dst "10\.0\.0\.0\/33" is not a CIDR/],
  },
  {
    name: 'bad-default-route-nic',
    annotations: { 'ipam.spidernet.io/default-route-nic': 'net 1' },
    expect: [
      /annotation ipam\.spidernet\.io\/default-route-nic is invalid: the interface name "net 1" contains '\/' or whitespace/,
    ],
  },
  {
    name: 'bad-bare-subnet',
    annotations: { 'ipam.spidernet.io/subnet': '{"ipv4":["any-subnet"]}' },
    expect: [
      /annotation ipam\.spidernet\.io\/subnet asks for an auto-created SpiderIPPool, but the SpiderSubnet feature doesn't support no-controller pod/,
    ],
  },
  {
    name: 'bad-networks',
    annotations: { 'k8s.v1.cni.cncf.io/networks': 'a/b@net1@net2' },
    expect: [/annotation k8s\.v1\.cni\.cncf\.io\/networks is invalid: entry "a\/b@net1@net2" has more than one '@'/],
  },
  {
    name: 'bad-disjoint-nodes',
    annotations: {
      'k8s.v1.cni.cncf.io/networks': 'macvlan-ens192',
      'ipam.spidernet.io/ippools': JSON.stringify([
        { interface: 'eth0', ipv4: ['wp-worker1'] },
        { interface: 'net1', ipv4: ['wp-worker2'] },
      ]),
    },
    expect: [
      /the SpiderIPPools it names serve no node in common: eth0 IPv4 needs SpiderIPPool "wp-worker1" \(nodeName \[worker1\]\), net1 IPv4 needs SpiderIPPool "wp-worker2" \(nodeName \[worker2\]\)/,
    ],
  },
];

describe('pod admission webhook end to end', function () {
  this.timeout(300_000);
  let c: TestCluster;
  let hooks: RunningWebhooks | undefined;
  let core: CoreV1Api;
  let apps: AppsV1Api;

  const podsOf = async (selector?: string): Promise<V1Pod[]> =>
    (await core.listNamespacedPod({ namespace: NS, ...(selector ? { labelSelector: selector } : {}) })).items;

  before(async () => {
    c = await testCluster();
    core = c.kubeConfig.makeApiClient(CoreV1Api);
    apps = c.kubeConfig.makeApiClient(AppsV1Api);
    for (const node of NODES) await registerNode(c.kubeConfig, node);
    await kubectlOk(c.kubectl, ['apply', '-f', '-'], {
      stdin: JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, labels: { team: 'blue' } } },
          ...Object.entries(POOLS).map(([name, spec]) => ({
            apiVersion: `${GROUP}/${VERSION}`,
            kind: 'SpiderIPPool',
            metadata: { name },
            spec,
          })),
        ],
      }),
    });
    hooks = await runWebhooks(c, createPodRoutes(), { configurationName: CONFIGURATION });
  });

  after(async () => {
    await hooks?.stop();
    if (!c) return;
    // Pods bound to nodes without a kubelet never finish a graceful delete, so they are force-deleted; their
    // Deployments and ReplicaSets go first, orphaning, so that nothing creates pods again meanwhile.
    for (const kind of ['deployments', 'replicasets']) {
      await kubectlOk(c.kubectl, ['delete', kind, '--all', '-n', NS, '--ignore-not-found', '--cascade=orphan']);
    }
    await eventually('the namespace to hold no pods', 60_000, async () => {
      await kubectlOk(c.kubectl, ['delete', 'pods', '--all', '-n', NS, '--force', '--grace-period=0']);
      const left = await kubectlOk(c.kubectl, ['get', 'pods', '-n', NS, '-o', 'name']);
      return left.trim() === '' ? true : undefined;
    });
    await kubectlOk(c.kubectl, ['delete', 'namespace', NS, '--ignore-not-found', '--wait=true', '--timeout=120s']);
    await kubectlOk(c.kubectl, ['delete', 'spiderippool', ...Object.keys(POOLS), '--ignore-not-found']);
    await kubectlOk(c.kubectl, ['delete', 'node', ...NODES, '--ignore-not-found']);
  });

  it(`kubectl apply refuses ${INVALID.length} invalid pods, naming the annotation or field and the reason, and creates none`, async () => {
    for (const bad of INVALID) {
      const r = await c.kubectl(['apply', '-f', '-'], { stdin: podManifest(bad.name, bad.annotations, bad) });
      assert.notEqual(r.code, 0, `${bad.name} was admitted: ${r.stdout}`);
      assert.match(r.stderr, /admission webhook ".*" denied the request/, bad.name);
      assert.match(r.stderr, new RegExp(`Pod ${NS}/${bad.name}: `), bad.name);
      for (const e of bad.expect) assert.match(r.stderr, e, `${bad.name}: ${r.stderr}`);
    }
    assert.deepEqual(
      (await podsOf()).map((p) => p.metadata?.name),
      [],
    );
  });

  it('admits valid pods, and says when their pool has no free address', async () => {
    const ok = await c.kubectl(['apply', '--dry-run=server', '-f', '-'], {
      stdin: podManifest('ok', ippool('wp-ok'), { labels: { app: 'db' } }),
    });
    assert.equal(ok.code, 0, ok.stderr);
    assert.doesNotMatch(ok.stderr, /Warning/);
    const db = await c.kubectl(['apply', '--dry-run=server', '-f', '-'], {
      stdin: podManifest('db', ippool('wp-app-db'), { labels: { app: 'db' } }),
    });
    assert.equal(db.code, 0, db.stderr);
    const full = await c.kubectl(['apply', '--dry-run=server', '-f', '-'], {
      stdin: podManifest('full', ippool('wp-full')),
    });
    assert.equal(full.code, 0, full.stderr);
    assert.match(
      full.stderr,
      /Warning: SpiderIPPool "wp-full" \(annotation ipam\.spidernet\.io\/ippool, eth0 IPv4\) has 0 free addresses for 1 pod waiting for one/,
    );
    assert.deepEqual(
      (await podsOf()).map((p) => p.metadata?.name),
      [],
    );
  });

  it('counts the pods already waiting for a pool in its capacity warning', async () => {
    for (const name of ['wait-1', 'wait-2']) {
      const r = await c.kubectl(['apply', '-f', '-'], { stdin: podManifest(name, ippool('wp-two')) });
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /Warning/, `${name} still fits`);
    }
    const third = await c.kubectl(['apply', '--dry-run=server', '-f', '-'], {
      stdin: podManifest('wait-3', ippool('wp-two')),
    });
    assert.equal(third.code, 0, third.stderr);
    assert.match(
      third.stderr,
      /Warning: SpiderIPPool "wp-two" .* has 2 free addresses for 3 pods waiting for one, this pod included/,
    );
    await kubectlOk(c.kubectl, ['delete', 'pod', '-n', NS, 'wait-1', 'wait-2', '--grace-period=0', '--force']);
  });

  it('a Deployment whose pool has nodeName [worker1] is scheduled only onto worker1, through the injected node affinity', async () => {
    await kubectlOk(c.kubectl, ['apply', '-f', '-'], { stdin: deployment('pinned', 4, ippool('wp-worker1')) });
    const pods = await eventually('4 scheduled pinned pods', 90_000, async () => {
      const scheduled = (await podsOf('app=pinned')).filter((p) => p.spec?.nodeName);
      return scheduled.length === 4 ? scheduled : undefined;
    });
    for (const pod of pods) {
      assert.equal(pod.spec?.nodeName, 'worker1', `${pod.metadata?.name} is on ${pod.spec?.nodeName}`);
      const terms = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
      // Plain data: the client returns instances of its model classes.
      assert.deepEqual(JSON.parse(JSON.stringify(terms)), [
        { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['worker1'] }] },
      ]);
    }
  });

  it('a Deployment whose pool cannot serve it gets no pods, and its ReplicaSet reports the reason as FailedCreate', async () => {
    await kubectlOk(c.kubectl, ['apply', '-f', '-'], { stdin: deployment('refused', 1, ippool('wp-disabled')) });
    const event = await eventually('a FailedCreate event', 60_000, async () => {
      const events = (await core.listNamespacedEvent({ namespace: NS })).items;
      return events.find(
        (e) =>
          e.reason === 'FailedCreate' &&
          e.involvedObject.kind === 'ReplicaSet' &&
          e.involvedObject.name?.startsWith('refused-'),
      );
    });
    assert.match(
      event.message ?? '',
      /SpiderIPPool "wp-disabled" \(annotation ipam\.spidernet\.io\/ippool, interface eth0, IPv4\) cannot serve the pod: disabled/,
    );
    assert.deepEqual(await podsOf('app=refused'), []);
    await apps.deleteNamespacedDeployment({ name: 'refused', namespace: NS });
  });
});
