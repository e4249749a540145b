// The install manifests are valid for a real apiserver: every object passes server-side validation
// (schemas, RBAC rule shapes, probes, the default coordinator against its CRD) without being stored.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { repoRoot } from './cluster/install.ts';
import { kubectlOk } from './cluster/kubectl.ts';
import { testCluster, type TestCluster } from './harness/cluster.ts';

describe('deploy manifests', function () {
  this.timeout(120_000);
  let cluster: TestCluster;

  before(async function () {
    this.timeout(300_000);
    cluster = await testCluster();
    // Namespaced objects are dry-run into the product's namespace, which must exist for that.
    const ns = await cluster.kubectl(['create', 'namespace', 'spiderpool']);
    assert.ok(ns.code === 0 || /already exists/.test(ns.stderr), ns.stderr);
  });

  for (const file of ['spiderpool.yaml', 'default-coordinator.yaml']) {
    it(`deploy/${file} passes server-side validation`, async () => {
      const out = await kubectlOk(cluster.kubectl, ['apply', '--dry-run=server', '-f', join(repoRoot, 'deploy', file)]);
      assert.match(out, /\(server dry run\)/);
    });
  }

  it('runs the controller with two replicas and the agent on every node', async () => {
    const out = await kubectlOk(cluster.kubectl, [
      'apply',
      '--dry-run=server',
      '-o',
      'json',
      '-f',
      join(repoRoot, 'deploy', 'spiderpool.yaml'),
    ]);
    const items = (
      JSON.parse(out) as {
        items: {
          kind: string;
          metadata: { name: string };
          spec?: { replicas?: number; template?: { spec: { containers: { args?: string[] }[] } } };
        }[];
      }
    ).items;
    const controller = items.find((i) => i.kind === 'Deployment' && i.metadata.name === 'spiderpool-controller');
    assert.equal(controller?.spec?.replicas, 2);
    assert.deepEqual(
      controller?.spec?.template?.spec.containers.map((c) => c.args?.[0]),
      ['operator/main.ts', 'webhooks/main.ts'],
    );
    const agent = items.find((i) => i.kind === 'DaemonSet' && i.metadata.name === 'spiderpool-agent');
    assert.deepEqual(
      agent?.spec?.template?.spec.containers.map((c) => c.args?.[0]),
      ['agent/main.ts'],
    );
  });
});
