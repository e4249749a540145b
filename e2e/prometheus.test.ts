// A real Prometheus scraping the product: the harness's agents (one per simulated node, pods getting
// addresses through the real plugin), both operator replicas and the webhook server, with the jobs of
// deploy/monitoring/prometheus-scrape.yaml and the shipped rules. The per-pool gauges it stores must equal
// `kubectl get sp` while a Deployment scales up and down, and a pool driven to exhaustion must raise the
// exhaustion alert, pending first, then firing.
//
// The rules are deploy/monitoring/rules.yaml with every `for:` shortened to 5 s and evaluated every
// second (scrapes every second too); nothing else of them is changed.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { kubectlOk } from './cluster/kubectl.ts';
import { testCluster, type TestCluster } from './harness/cluster.ts';
import { startControllers, type Controllers } from './harness/controllers.ts';
import { INSTALLED_CONF, installedIdentities, type InstalledIdentities } from './harness/installed-identities.ts';
import { startNodeSide, type NodeSide } from './harness/nodes.ts';
import { MONITORING_DIR, startPrometheus, type RunningPrometheus } from './harness/prometheus.ts';
import { table } from './harness/table.ts';
import { eventually } from './harness/wait.ts';

const NS = 'prometheus-e2e';
const NODES = ['worker1', 'worker2'];
const CHURN_POOL = 'prom-churn';
const SMALL_POOL = 'prom-small';
const SMALL_POOL_SIZE = 4;
const SUBNET = 'prom-subnet';
const SHORT_FOR = '5s';

const pools = `
apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderIPPool
metadata: {name: ${CHURN_POOL}}
spec: {subnet: 10.77.0.0/24, ips: [10.77.0.10-10.77.0.40]}
---
apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderIPPool
metadata: {name: ${SMALL_POOL}}
spec: {subnet: 10.78.0.0/24, ips: [10.78.0.10-10.78.0.${10 + SMALL_POOL_SIZE - 1}]}
---
apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderSubnet
metadata: {name: ${SUBNET}}
spec: {subnet: 10.79.0.0/24, ips: [10.79.0.10-10.79.0.20]}
`;

const deployment = (name: string, pool: string, replicas: number) => `
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: ${NS}}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata:
      labels: {app: ${name}}
      annotations: {ipam.spidernet.io/ippool: '{"ipv4":["${pool}"]}'}
    spec:
      containers: [{name: nginx, image: nginx, imagePullPolicy: IfNotPresent}]
`;

/** The shipped rules with every `for:` shortened, so that alerts fire within the test. */
function shortenedRules(): string {
  const text = readFileSync(join(MONITORING_DIR, 'rules.yaml'), 'utf8');
  const shortened = text.replace(/^(\s+for:) \S+$/gm, `$1 ${SHORT_FOR}`);
  assert.notEqual(shortened, text);
  return shortened;
}

describe('Prometheus scraping the product', function () {
  this.timeout(600_000);
  let c: TestCluster;
  let controllers: Controllers;
  let nodes: NodeSide;
  let prometheus: RunningPrometheus;
  let identities: InstalledIdentities;

  /** ALLOCATED-IP-COUNT of every pool, as `kubectl get sp` prints it. */
  const kubectlCounts = async (): Promise<Map<string, number>> => {
    const sp = table(await kubectlOk(c.kubectl, ['get', 'sp']));
    const name = sp.header.indexOf('NAME');
    const allocated = sp.header.indexOf('ALLOCATED-IP-COUNT');
    return new Map(sp.rows.map((r) => [r[name] as string, Number(r[allocated] || 0)]));
  };

  before(async function () {
    this.timeout(600_000);
    c = await testCluster();
    await kubectlOk(c.kubectl, ['create', 'namespace', NS]);
    // The agents and the operator replicas run as installed: each with its own service account's RBAC and
    // the shipped conf.yml. The webhook server keeps the admin's kubeconfig: with no Service network the
    // harness has it register its configurations by URL, which an installation applies instead.
    identities = await installedIdentities(c);
    controllers = await startControllers({
      kubeConfig: c.kubeConfig,
      kubeconfigPath: c.cp.kubeconfig,
      env: { SPIDERPOOL_CONFIG_PATH: INSTALLED_CONF },
      operatorEnv: { KUBECONFIG: identities.controllerKubeconfig },
    });
    await kubectlOk(c.kubectl, ['apply', '-f', '-'], { stdin: pools });
    nodes = await startNodeSide({
      kubeConfig: c.kubeConfig,
      kubeconfigPath: identities.agentKubeconfig,
      nodes: NODES,
      agentEnv: identities.agentEnv,
    });
    prometheus = await startPrometheus({
      targets: {
        'spiderpool-agent': nodes.agents.agents.map((a) => ({
          address: `127.0.0.1:${a.metricsPort}`,
          labels: { node: a.node },
        })),
        'spiderpool-controller': controllers.operators.map((o) => ({
          address: `127.0.0.1:${o.port}`,
          labels: { pod: o.name },
        })),
        'spiderpool-webhooks': [
          { address: `127.0.0.1:${controllers.webhooksMetricsPort}`, labels: { pod: controllers.webhooks.name } },
        ],
      },
      rules: { 'rules.yaml': shortenedRules() },
    });
  });

  after(async function () {
    this.timeout(180_000);
    await c?.kubectl(['delete', 'namespace', NS, '--wait=true', '--timeout=120s']);
    await c?.kubectl(['delete', 'sp', CHURN_POOL, SMALL_POOL, '--ignore-not-found', '--wait=false']);
    await c?.kubectl(['delete', 'ss', SUBNET, '--ignore-not-found', '--wait=false']);
    await prometheus?.stop();
    await nodes?.stop();
    await controllers?.stop();
    identities?.cleanup();
  });

  it('scrapes every agent, both operator replicas and the webhook server', async () => {
    const targets = await eventually('every target up', 60_000, async () => {
      const all = await prometheus.targets();
      return all.length > 0 && all.every((t) => t.health === 'up') ? all : undefined;
    });
    const perJob = (job: string) => targets.filter((t) => t.job === job).length;
    assert.equal(perJob('spiderpool-agent'), NODES.length);
    assert.equal(perJob('spiderpool-controller'), controllers.operators.length);
    assert.equal(perJob('spiderpool-webhooks'), 1);
    const leaders = await eventually('one leader in Prometheus', 60_000, async () => {
      const [sum] = await prometheus.query('sum(spiderpool_controller_leader{job="spiderpool-controller"})');
      return sum?.value === 1 ? sum : undefined;
    });
    assert.equal(leaders.value, 1);

    const subnets = (await kubectlOk(c.kubectl, ['get', 'ss', '-o', 'name'])).split('\n').filter(Boolean).length;
    assert.ok(subnets > 0);
    const pools = (await kubectlOk(c.kubectl, ['get', 'sp', '-o', 'name'])).split('\n').filter(Boolean).length;
    for (const [metric, expected] of [
      ['spiderpool_total_subnet_counts', subnets],
      ['spiderpool_total_ippool_counts', pools],
    ] as const) {
      const want = JSON.stringify(controllers.operators.map((o) => [o.name, expected]).sort());
      await eventually(`${metric} ${expected} from every replica`, 30_000, async () => {
        const samples = await prometheus.query(metric);
        return JSON.stringify(samples.map((s) => [s.metric.pod, s.value]).sort()) === want ? true : undefined;
      });
    }
  });

  it('spiderpool_debug_ippool_allocated_ip_counts equals kubectl get sp for every pool, from every replica, while pods churn', async () => {
    const replicas = [3, 7, 1, 5, 0, 6, 2];
    const agreedAt = new Set<number>();
    let comparisons = 0;
    for (const [step, count] of replicas.entries()) {
      await kubectlOk(c.kubectl, ['apply', '-f', '-'], { stdin: deployment('churn', CHURN_POOL, count) });
      // Compared from the moment the scale starts: agreement counts whenever kubectl's view holds still
      // across one Prometheus query, whatever the pool's count is then; each step ends once both agree on
      // its settled count.
      await eventually(`Prometheus and kubectl get sp to agree on ${count} at step ${step}`, 120_000, async () => {
        const before = await kubectlCounts();
        const samples = await prometheus.query('spiderpool_debug_ippool_allocated_ip_counts');
        const after = await kubectlCounts();
        if ([...before].some(([pool, n]) => after.get(pool) !== n) || before.size !== after.size) return undefined;
        for (const operator of controllers.operators) {
          const mine = samples.filter((s) => s.metric.pod === operator.name);
          const seen = new Map(mine.map((s) => [s.metric.SpiderIPPool as string, s.value]));
          if (seen.size !== after.size || [...after].some(([pool, n]) => seen.get(pool) !== n)) return undefined;
        }
        comparisons++;
        agreedAt.add(after.get(CHURN_POOL) ?? -1);
        return after.get(CHURN_POOL) === count ? true : undefined;
      });
    }
    assert.ok(comparisons >= replicas.length, `${comparisons} agreeing comparisons`);
    assert.deepEqual(
      replicas.filter((n) => !agreedAt.has(n)),
      [],
      'Prometheus agreed with kubectl at every count the churn reached',
    );
    const [allocations] = await prometheus.query('sum(spiderpool_ipam_allocation_counts_total)');
    const [releases] = await prometheus.query('sum(spiderpool_ipam_release_counts_total)');
    assert.ok((allocations?.value ?? 0) >= Math.max(...replicas), `ADDs counted: ${allocations?.value}`);
    assert.ok((releases?.value ?? 0) > 0, `DELs counted: ${releases?.value}`);
  });

  it('a pool driven to exhaustion raises SpiderpoolIPPoolExhausted, pending then firing', async () => {
    const states: string[] = [];
    const replicas = SMALL_POOL_SIZE + 2;
    await kubectlOk(c.kubectl, ['apply', '-f', '-'], { stdin: deployment('hog', SMALL_POOL, replicas) });
    await eventually('SpiderpoolIPPoolExhausted firing', 180_000, async () => {
      const alert = (await prometheus.alerts()).find(
        (a) => a.labels.alertname === 'SpiderpoolIPPoolExhausted' && a.labels.SpiderIPPool === SMALL_POOL,
      );
      if (alert && states.at(-1) !== alert.state) states.push(alert.state);
      return alert?.state === 'firing' ? true : undefined;
    });
    assert.deepEqual(states, ['pending', 'firing']);
    const counts = await kubectlCounts();
    assert.equal(counts.get(SMALL_POOL), SMALL_POOL_SIZE);

    const nearly = (await prometheus.alerts()).find(
      (a) => a.labels.alertname === 'SpiderpoolIPPoolNearlyExhausted' && a.labels.SpiderIPPool === SMALL_POOL,
    );
    assert.ok(nearly, 'SpiderpoolIPPoolNearlyExhausted is active too');
    // The pods left without an address are refused by the agents as IPUsedOut, in both failure counters.
    const failed = await eventually('IPUsedOut failures scraped', 60_000, async () => {
      const [byReason] = await prometheus.query(
        'sum(spiderpool_ipam_allocation_failure_counts_total{reason="IPUsedOut"})',
      );
      const [byClass] = await prometheus.query('sum(spiderpool_ipam_allocation_err_ip_used_out_counts_total)');
      return byReason && byClass && byReason.value > 0 && byClass.value === byReason.value ? byReason.value : undefined;
    });
    assert.ok(failed > 0);
  });
});
