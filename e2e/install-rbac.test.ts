// What the installed service accounts may and may not do (deploy/product/rbac.yaml), asked of a real
// apiserver, and that `kubectl delete -k` leaves nothing of the product behind.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ADMITTED_WRITES_CONFIGMAP } from '../webhooks/admitted-writes.ts';
import { repoRoot } from './cluster/install.ts';
import { kubectlOk } from './cluster/kubectl.ts';
import { startOwnCluster, testCluster, type TestCluster } from './harness/cluster.ts';

interface Manifest {
  kind: string;
  metadata: { name: string; namespace?: string };
}

const RBAC_KINDS = ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'];
const NS = 'spiderpool';
const AGENT = `system:serviceaccount:${NS}:spiderpool-agent`;
const CONTROLLER = `system:serviceaccount:${NS}:spiderpool-controller`;
const TLS = 'spiderpool-controller-webhook-tls';

// [who, verb, resource, extra arguments]
type Ask = [string, string, string, ...string[]];
const ALLOWED: Ask[] = [
  [AGENT, 'watch', 'spiderippools.spiderpool.spidernet.io'],
  [AGENT, 'update', 'spiderippools.spiderpool.spidernet.io', '--subresource=status'],
  [AGENT, 'list', 'spiderreservedips.spiderpool.spidernet.io'],
  [AGENT, 'get', 'spidercoordinators.spiderpool.spidernet.io'],
  [AGENT, 'create', 'spiderendpoints.spiderpool.spidernet.io', '-n', 'default'],
  [AGENT, 'delete', 'spiderendpoints.spiderpool.spidernet.io', '-n', 'default'],
  [AGENT, 'watch', 'pods', '-A'],
  [AGENT, 'get', 'nodes'],
  [AGENT, 'get', 'statefulsets.apps', '-n', 'default'],
  [AGENT, 'get', 'jobs.batch', '-n', 'default'],
  [CONTROLLER, 'watch', 'cronjobs.batch', '-A'],
  [AGENT, 'create', 'events', '-n', 'default'],
  [CONTROLLER, 'delete', 'spiderippools.spiderpool.spidernet.io'],
  [CONTROLLER, 'update', 'spidersubnets.spiderpool.spidernet.io', '--subresource=status'],
  [CONTROLLER, 'update', 'spidercoordinators.spiderpool.spidernet.io', '--subresource=status'],
  [CONTROLLER, 'delete', 'spiderendpoints.spiderpool.spidernet.io', '-n', 'default'],
  [CONTROLLER, 'create', 'network-attachment-definitions.k8s.cni.cncf.io', '-n', 'default'],
  [CONTROLLER, 'create', 'events', '-n', 'default'],
  [CONTROLLER, 'create', 'leases.coordination.k8s.io', '-n', NS],
  [CONTROLLER, 'update', 'leases.coordination.k8s.io/spiderpool-controller', '-n', NS],
  [CONTROLLER, 'watch', 'configmaps', '-n', 'kube-system'],
  [CONTROLLER, 'update', 'mutatingwebhookconfigurations/spiderpool-controller'],
  [CONTROLLER, 'update', 'validatingwebhookconfigurations/spiderpool-controller'],
  [CONTROLLER, 'create', 'secrets', '-n', NS],
  [CONTROLLER, 'update', `secrets/${TLS}`, '-n', NS],
  [CONTROLLER, 'create', 'configmaps', '-n', NS],
  [CONTROLLER, 'update', `configmaps/${ADMITTED_WRITES_CONFIGMAP}`, '-n', NS],
];
const DENIED: Ask[] = [
  [AGENT, 'delete', 'spiderippools.spiderpool.spidernet.io'],
  [AGENT, 'update', 'spiderippools.spiderpool.spidernet.io'],
  [AGENT, 'create', 'spiderippools.spiderpool.spidernet.io'],
  [AGENT, 'delete', 'spiderreservedips.spiderpool.spidernet.io'],
  [AGENT, 'update', 'spiderreservedips.spiderpool.spidernet.io'],
  [AGENT, 'update', 'spidersubnets.spiderpool.spidernet.io'],
  [AGENT, 'update', 'spidercoordinators.spiderpool.spidernet.io'],
  [AGENT, 'get', 'secrets', '-n', NS],
  [AGENT, 'get', 'configmaps', '-n', 'kube-system'],
  [AGENT, 'delete', 'pods', '-A'],
  [AGENT, 'list', 'jobs.batch', '-A'],
  [CONTROLLER, 'update', 'mutatingwebhookconfigurations/other'],
  [CONTROLLER, 'update', 'validatingwebhookconfigurations/other'],
  [CONTROLLER, 'create', 'mutatingwebhookconfigurations'],
  [CONTROLLER, 'delete', 'validatingwebhookconfigurations/other'],
  [CONTROLLER, 'get', 'secrets', '-n', 'kube-system'],
  [CONTROLLER, 'get', 'secrets/other', '-n', NS],
  [CONTROLLER, 'list', 'secrets', '-n', NS],
  [CONTROLLER, 'get', 'configmaps', '-n', 'default'],
  [CONTROLLER, 'update', 'configmaps', '-n', 'kube-system'],
  [CONTROLLER, 'update', 'configmaps/other', '-n', NS],
  [CONTROLLER, 'delete', `configmaps/${ADMITTED_WRITES_CONFIGMAP}`, '-n', NS],
  [CONTROLLER, 'update', 'leases.coordination.k8s.io/other', '-n', NS],
  [CONTROLLER, 'create', 'leases.coordination.k8s.io', '-n', 'kube-system'],
  [CONTROLLER, 'create', 'pods', '-n', 'default'],
  [CONTROLLER, 'delete', 'nodes'],
  [CONTROLLER, 'delete', 'spiderreservedips.spiderpool.spidernet.io'],
  [CONTROLLER, 'delete', 'network-attachment-definitions.k8s.cni.cncf.io', '-n', 'default'],
  [CONTROLLER, 'update', 'clusterroles.rbac.authorization.k8s.io'],
];

const build = async (cluster: TestCluster, dir: string): Promise<Manifest[]> =>
  parseAllDocuments(await kubectlOk(cluster.kubectl, ['kustomize', dir])).map((d) => d.toJS() as Manifest);

describe('install RBAC', function () {
  this.timeout(120_000);
  let cluster: TestCluster;
  let rbac: string;

  before(async function () {
    this.timeout(300_000);
    cluster = await testCluster();
    const ns = await cluster.kubectl(['create', 'namespace', NS]);
    assert.ok(ns.code === 0 || /already exists/.test(ns.stderr), ns.stderr);
    const items = (await build(cluster, join(repoRoot, 'deploy', 'base'))).filter((o) => RBAC_KINDS.includes(o.kind));
    rbac = JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
    await kubectlOk(cluster.kubectl, ['apply', '-f', '-'], { stdin: rbac });
  });

  after(async () => {
    if (rbac) await cluster.kubectl(['delete', '--ignore-not-found', '-f', '-'], { stdin: rbac });
  });

  const canI = async ([who, verb, resource, ...rest]: Ask): Promise<string> => {
    const r = await cluster.kubectl(['auth', 'can-i', verb, resource, ...rest, '--as', who]);
    return r.stdout.trim();
  };
  const label = ([who, verb, resource, ...rest]: Ask) =>
    `${who.split(':').pop()} ${verb} ${resource} ${rest.join(' ')}`.trim();

  it('allows every call the daemons make', async () => {
    const refused = [];
    for (const ask of ALLOWED) if ((await canI(ask)) !== 'yes') refused.push(label(ask));
    assert.deepEqual(refused, []);
  });

  it('refuses what they must not do', async () => {
    const allowed = [];
    for (const ask of DENIED) if ((await canI(ask)) !== 'no') allowed.push(label(ask));
    assert.deepEqual(allowed, []);
  });

  // The webhooks' caches list and watch their Secret and configurations by a metadata.name field selector,
  // which the apiserver authorizes against resourceNames.
  it('lets the webhooks list their own objects by name, and only those', async () => {
    const get = (args: string[]) => cluster.kubectl(['get', ...args, '--as', CONTROLLER, '-o', 'name']);
    for (const args of [
      ['secrets', '-n', NS, '--field-selector', `metadata.name=${TLS}`],
      ['mutatingwebhookconfigurations', '--field-selector', 'metadata.name=spiderpool-controller'],
      ['validatingwebhookconfigurations', '--field-selector', 'metadata.name=spiderpool-controller'],
    ]) {
      const r = await get(args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    }
    const other = await get(['secrets', '-n', NS, '--field-selector', 'metadata.name=other']);
    assert.match(other.stderr, /forbidden/);
  });
});

describe('uninstall', function () {
  this.timeout(300_000);
  let cluster: TestCluster;
  let dir: string;

  before(async function () {
    // A control plane without nodes: the product's pods stay unscheduled, so deleting them waits for no kubelet
    // (the shared one keeps the simulated nodes other tests registered, and nothing runs their pods' deletion).
    cluster = await startOwnCluster();
    // The product in a namespace of its own, as deploy/README.md describes. Old kustomize takes bases by
    // relative path only.
    dir = mkdtempSync(join(tmpdir(), 'spiderpool-uninstall-'));
    const deploy = join(repoRoot, 'deploy');
    writeFileSync(
      join(dir, 'kustomization.yaml'),
      [
        'namespace: spiderpool-uninstall',
        'resources: [namespace.yaml]',
        `bases: [${relative(dir, join(deploy, 'product'))}, ${relative(dir, join(deploy, 'kube-system-access'))}]`,
        'patchesJson6902:',
        ...[
          ['ClusterRoleBinding', 'spiderpool-agent'],
          ['ClusterRoleBinding', 'spiderpool-controller'],
          ['ClusterRoleBinding', 'spiderpool-webhooks'],
          ['RoleBinding', 'spiderpool-controller'],
          ['RoleBinding', 'spiderpool-webhooks'],
          ['RoleBinding', 'spiderpool-cluster-cidrs'],
        ].map(
          ([kind, name]) =>
            `- {target: {group: rbac.authorization.k8s.io, version: v1, kind: ${kind}, name: ${name}}, path: subject.yaml}`,
        ),
      ].join('\n'),
    );
    writeFileSync(
      join(dir, 'namespace.yaml'),
      'apiVersion: v1\nkind: Namespace\nmetadata: {name: spiderpool-uninstall}\n',
    );
    writeFileSync(
      join(dir, 'subject.yaml'),
      '- {op: replace, path: /subjects/0/namespace, value: spiderpool-uninstall}\n',
    );
  });

  after(async () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    await cluster?.cp.stop();
  });

  it('kubectl delete -k removes every object kubectl apply -k created', async () => {
    const objects = await build(cluster, dir);
    assert.ok(objects.some((o) => o.kind === 'DaemonSet'));
    await kubectlOk(cluster.kubectl, ['apply', '-k', dir]);
    await kubectlOk(cluster.kubectl, ['delete', '-k', dir, '--wait=true', '--timeout=240s']);
    const left = [];
    for (const o of objects) {
      const ns = o.metadata.namespace ? ['-n', o.metadata.namespace] : [];
      const r = await cluster.kubectl(['get', o.kind, o.metadata.name, ...ns, '-o', 'name']);
      if (!/NotFound|not found/.test(r.stderr)) left.push(`${o.kind} ${o.metadata.name}: ${r.stdout}${r.stderr}`);
    }
    assert.deepEqual(left, []);
  });
});
