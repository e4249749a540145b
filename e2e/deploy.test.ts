// The install kustomizations are valid for a real apiserver: every one builds with the kustomize of the
// test cluster's kubectl (1.20, kustomize v2.0.3, the oldest the README supports) and every object passes
// server-side validation (schemas, RBAC rule shapes, probes, the default coordinator against its CRD)
// without being stored. Each overlay changes what its Helm value changes and nothing else.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { repoRoot } from './cluster/install.ts';
import { kubectlOk } from './cluster/kubectl.ts';
import { testCluster, type TestCluster } from './harness/cluster.ts';

interface Container {
  name: string;
  image: string;
  env?: { name: string; value?: string; valueFrom?: unknown }[];
}
interface Manifest {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: {
    mode?: string;
    replicas?: number;
    template?: { spec: { initContainers?: Container[]; containers: Container[]; volumes?: { name: string }[] } };
  };
  subjects?: { namespace: string }[];
  data?: Record<string, string>;
}

const deployDir = join(repoRoot, 'deploy');
const OVERLAYS = readdirSync(join(deployDir, 'overlays')).sort();
const baseConf = parseYaml(readFileSync(join(deployDir, 'product', 'conf.yml'), 'utf8')) as Record<string, unknown>;

describe('deploy kustomizations', function () {
  this.timeout(120_000);
  let cluster: TestCluster;
  const built = new Map<string, Manifest[]>();

  const build = async (dir: string): Promise<Manifest[]> => {
    const cached = built.get(dir);
    if (cached) return cached;
    const yaml = await kubectlOk(cluster.kubectl, ['kustomize', join(deployDir, dir)]);
    const objects = parseAllDocuments(yaml).map((d) => d.toJS() as Manifest);
    built.set(dir, objects);
    return objects;
  };
  const find = (objects: Manifest[], kind: string, name: string): Manifest => {
    const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
    assert.ok(found, `${kind} ${name} is missing`);
    return found;
  };
  const conf = (objects: Manifest[]): Record<string, unknown> =>
    parseYaml(find(objects, 'ConfigMap', 'spiderpool-conf').data?.['conf.yml'] ?? '') as Record<string, unknown>;
  const podSpec = (objects: Manifest[], kind: string, name: string) => {
    const spec = find(objects, kind, name).spec?.template?.spec;
    assert.ok(spec);
    return spec;
  };

  before(async function () {
    this.timeout(300_000);
    cluster = await testCluster();
    // Namespaced objects are dry-run into the product's namespace, which must exist for that.
    const ns = await cluster.kubectl(['create', 'namespace', 'spiderpool']);
    assert.ok(ns.code === 0 || /already exists/.test(ns.stderr), ns.stderr);
  });

  for (const dir of ['base', ...OVERLAYS.map((o) => `overlays/${o}`)]) {
    it(`deploy/${dir} builds and passes server-side validation`, async () => {
      const objects = await build(dir);
      // The Namespace is left out: a dry run does not create it, and the objects are checked in the one above.
      const items = objects.filter((o) => o.kind !== 'Namespace');
      const list = JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
      const out = await kubectlOk(cluster.kubectl, ['apply', '--dry-run=server', '-f', '-'], { stdin: list });
      assert.match(out, /\(server dry run\)/);
    });
  }

  it('base: the controller with two replicas and both daemons, the agent with both plugins and probes', async () => {
    const objects = await build('base');
    assert.equal(find(objects, 'Deployment', 'spiderpool-controller').spec?.replicas, 2);
    const controller = podSpec(objects, 'Deployment', 'spiderpool-controller');
    assert.deepEqual(
      controller.containers.map((c) => c.name),
      ['operator', 'webhooks'],
    );
    const agent = podSpec(objects, 'DaemonSet', 'spiderpool-agent');
    assert.deepEqual(
      agent.initContainers?.map((c) => c.name),
      ['install-cni'],
    );
    const env = agent.containers[0]?.env ?? [];
    assert.deepEqual(env.find((e) => e.name === 'SPIDERPOOL_AGENT_METRICS_HOST')?.valueFrom, {
      fieldRef: { fieldPath: 'status.podIP' },
    });
    // Every daemon reads the ConfigMap, and no variable overrides a key it holds.
    for (const c of [...controller.containers, ...agent.containers]) {
      assert.ok(
        c.env?.some((e) => e.name === 'SPIDERPOOL_CONFIG_PATH'),
        `${c.name} does not read conf.yml`,
      );
      assert.ok(!c.env?.some((e) => e.name === 'MULTUS_CLUSTER_NETWORK'), `${c.name} overrides clusterNetwork`);
    }
    assert.equal(find(objects, 'SpiderCoordinator', 'default').spec?.mode, 'auto');
    assert.deepEqual(conf(objects), baseConf);
  });

  const confOverlays: Record<string, Record<string, unknown>> = {
    'no-statefulset': { enableStatefulSet: false },
    'ipv4-only': { enableIPv6: false },
    'ipv6-only': { enableIPv4: false },
    'default-network': { clusterNetwork: 'ipvlan-eth0' },
  };
  for (const [overlay, change] of Object.entries(confOverlays)) {
    it(`overlays/${overlay} changes only ${Object.keys(change).join(', ')} in conf.yml`, async () => {
      assert.deepEqual(conf(await build(`overlays/${overlay}`)), { ...baseConf, ...change });
    });
  }

  for (const mode of ['overlay', 'underlay']) {
    it(`overlays/coordinator-${mode} sets the default SpiderCoordinator's mode`, async () => {
      const objects = await build(`overlays/coordinator-${mode}`);
      assert.equal(find(objects, 'SpiderCoordinator', 'default').spec?.mode, mode);
    });
  }

  it('overlays/registry pulls every container from the mirror', async () => {
    const objects = await build('overlays/registry');
    const images = ['Deployment', 'DaemonSet'].flatMap((kind) => {
      const spec = podSpec(objects, kind, kind === 'Deployment' ? 'spiderpool-controller' : 'spiderpool-agent');
      return [...(spec.initContainers ?? []), ...spec.containers].map((c) => c.image);
    });
    assert.deepEqual([...new Set(images)], ['registry.example.com/spiderpool-ts:0.1.0']);
  });

  it('overlays/no-plugins runs the agent without writing to the host CNI directory', async () => {
    const agent = podSpec(await build('overlays/no-plugins'), 'DaemonSet', 'spiderpool-agent');
    assert.deepEqual(agent.initContainers ?? [], []);
    assert.ok(!agent.volumes?.some((v) => v.name === 'cni-bin'));
  });

  it('overlays/kube-system moves every namespaced object and every binding subject to kube-system', async () => {
    const objects = await build('overlays/kube-system');
    assert.ok(!objects.some((o) => o.kind === 'Namespace'), 'it must not create or delete kube-system');
    for (const o of objects) {
      if (o.metadata.namespace !== undefined) assert.equal(o.metadata.namespace, 'kube-system', o.metadata.name);
      for (const s of o.subjects ?? []) assert.equal(s.namespace, 'kube-system', o.metadata.name);
    }
  });
});
