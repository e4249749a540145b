// The alert and recording rules of deploy/monitoring/ through Debian's promtool: they parse, their unit
// tests pass and exercise every rule, a broken rule or a changed threshold makes the suite fail, and the
// PrometheusRule, the PodMonitor, the ServiceMonitor and the scrape example agree with the rules and with
// the objects deploy/product installs.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse, parseAllDocuments } from 'yaml';
import { controlPlaneBinaries } from './cluster/control-plane.ts';
import { repoRoot } from './cluster/install.ts';
import { MONITORING_DIR, PROMTOOL, SCRAPE_CONFIG, scrapeConfigs } from './harness/prometheus.ts';

const RULES = join(MONITORING_DIR, 'rules.yaml');
const RULE_TESTS = join(MONITORING_DIR, 'tests');
const BROKEN = join(repoRoot, 'e2e', 'fixtures', 'monitoring', 'broken-rules.yaml');

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
}
interface RuleGroups {
  groups: { name: string; rules: Rule[] }[];
}
interface RuleTest {
  alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[];
  promql_expr_test?: { expr: string }[];
}

const readYaml = <T>(path: string): T => parse(readFileSync(path, 'utf8')) as T;
const ruleTestFiles = () =>
  readdirSync(RULE_TESTS)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => join(RULE_TESTS, f));

async function promtool(args: string[], cwd = MONITORING_DIR): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(PROMTOOL, args, { cwd });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** Every manifest document of deploy/product, by kind and name. */
function productObjects(): Map<string, Record<string, unknown>> {
  const dir = join(repoRoot, 'deploy', 'product');
  const docs = readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) =>
      parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => d.toJS() as Record<string, unknown>),
    );
  return new Map(
    docs
      .filter((d) => d?.kind && d.metadata)
      .map((d) => [`${String(d.kind)}/${String((d.metadata as { name: string }).name)}`, d] as const),
  );
}

type PodSpec = { containers: { ports?: { name?: string }[] }[] };
type Workload = { spec: { template: { metadata: { labels: Record<string, string> }; spec: PodSpec } } };
const portNames = (pod: PodSpec) => pod.containers.flatMap((c) => (c.ports ?? []).map((p) => p.name));
const selects = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);
const jobRelabel = (relabelings: { targetLabel?: string; replacement?: string }[]) =>
  relabelings.find((r) => r.targetLabel === 'job')?.replacement;

describe('monitoring rules (promtool)', function () {
  this.timeout(60_000);
  const rules = readYaml<RuleGroups>(RULES).groups.flatMap((g) => g.rules);

  it('promtool check rules accepts rules.yaml, with lint errors fatal', async () => {
    const { code, output } = await promtool(['check', 'rules', '--lint=all', '--lint-fatal', RULES]);
    assert.equal(code, 0, output);
    assert.match(output, new RegExp(`SUCCESS: ${rules.length} rules found`));
  });

  it('promtool test rules passes every unit test in deploy/monitoring/tests', async () => {
    for (const file of ruleTestFiles()) {
      const { code, output } = await promtool(['test', 'rules', file], RULE_TESTS);
      assert.equal(code, 0, `${file}:\n${output}`);
    }
  });

  it('every alert has a unit test in which it fires, and every recording rule is evaluated by one', () => {
    const tests = ruleTestFiles().flatMap((f) => readYaml<{ tests: RuleTest[] }>(f).tests);
    const firing = new Set(
      tests.flatMap((t) => (t.alert_rule_test ?? []).filter((a) => a.exp_alerts?.length).map((a) => a.alertname)),
    );
    const evaluated = tests.flatMap((t) => (t.promql_expr_test ?? []).map((e) => e.expr));
    const untested = rules.filter((r) =>
      r.alert !== undefined
        ? !firing.has(r.alert)
        : !evaluated.some((e) => new RegExp(`(^|[^\\w:])${r.record}([^\\w:]|$)`).test(e)),
    );
    assert.deepEqual(
      untested.map((r) => r.alert ?? r.record),
      [],
      'rules without a unit test',
    );
  });

  it('a broken rule fails promtool check rules, naming the group, the rule and the parse error', async () => {
    const { code, output } = await promtool(['check', 'rules', BROKEN]);
    assert.notEqual(code, 0, output);
    assert.match(output, /group "spiderpool-ippool", rule 1, "SpiderpoolIPPoolNearlyExhausted": could not parse/);
  });

  it('a changed threshold fails the unit tests: they pin what each alert means', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spiderpool-rules-'));
    try {
      cpSync(MONITORING_DIR, dir, { recursive: true });
      const text = readFileSync(RULES, 'utf8');
      const changed = text.replace('spiderpool_ippool:usage:ratio >= 0.9', 'spiderpool_ippool:usage:ratio >= 0.95');
      assert.notEqual(changed, text);
      writeFileSync(join(dir, 'rules.yaml'), changed);
      const { code, output } = await promtool(['test', 'rules', join(dir, 'tests', 'rules.test.yaml')], dir);
      assert.notEqual(code, 0, output);
      assert.match(output, /alertname: SpiderpoolIPPoolNearlyExhausted/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the PrometheusRule carries exactly the groups of rules.yaml', () => {
    const object = readYaml<{ apiVersion: string; kind: string; spec: RuleGroups }>(
      join(MONITORING_DIR, 'prometheus-rule.yaml'),
    );
    assert.equal(object.apiVersion, 'monitoring.coreos.com/v1');
    assert.equal(object.kind, 'PrometheusRule');
    assert.deepEqual(object.spec, readYaml<RuleGroups>(RULES));
  });

  it('the PodMonitor and ServiceMonitor select the installed agent and controller, by port names they have, with the scrape example’s jobs', () => {
    const objects = productObjects();
    const jobs = readYaml<{ scrape_configs: { job_name: string }[] }>(SCRAPE_CONFIG).scrape_configs.map(
      (j) => j.job_name,
    );
    const agent = objects.get('DaemonSet/spiderpool-agent') as Workload;
    const podMonitor = readYaml<{
      spec: {
        selector: { matchLabels: Record<string, string> };
        podMetricsEndpoints: { port: string; relabelings: { targetLabel?: string; replacement?: string }[] }[];
      };
    }>(join(MONITORING_DIR, 'pod-monitor.yaml'));
    assert.ok(selects(podMonitor.spec.selector.matchLabels, agent.spec.template.metadata.labels));
    for (const e of podMonitor.spec.podMetricsEndpoints)
      assert.ok(portNames(agent.spec.template.spec).includes(e.port), `agent has port ${e.port}`);
    assert.deepEqual(
      podMonitor.spec.podMetricsEndpoints.map((e) => jobRelabel(e.relabelings)),
      ['spiderpool-agent'],
    );

    const service = objects.get('Service/spiderpool-controller') as {
      metadata: { labels: Record<string, string> };
      spec: { ports: { name: string }[] };
    };
    const serviceMonitor = readYaml<{
      spec: {
        selector: { matchLabels: Record<string, string> };
        endpoints: { port: string; relabelings: { targetLabel?: string; replacement?: string }[] }[];
      };
    }>(join(MONITORING_DIR, 'service-monitor.yaml'));
    assert.ok(selects(serviceMonitor.spec.selector.matchLabels, service.metadata.labels));
    for (const e of serviceMonitor.spec.endpoints)
      assert.ok(
        service.spec.ports.some((p) => p.name === e.port),
        `Service spiderpool-controller has port ${e.port}`,
      );
    const monitored = [...podMonitor.spec.podMetricsEndpoints, ...serviceMonitor.spec.endpoints].map((e) =>
      jobRelabel(e.relabelings),
    );
    assert.deepEqual(monitored.sort(), [...jobs].sort());
  });

  it('kubectl apply -k deploy/monitoring builds the monitors, the rules and the dashboard ConfigMap for Grafana', async function () {
    this.timeout(600_000);
    const kubectl = join(await controlPlaneBinaries(), 'kubectl');
    const { stdout } = await promisify(execFile)(kubectl, ['kustomize', MONITORING_DIR]);
    const objects = parseAllDocuments(stdout).map(
      (d) =>
        d.toJS() as {
          kind: string;
          metadata: { name: string; labels?: Record<string, string> };
          data?: Record<string, string>;
        },
    );
    assert.deepEqual(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort(), [
      'ConfigMap/spiderpool-dashboard',
      'PodMonitor/spiderpool-agent',
      'PrometheusRule/spiderpool',
      'ServiceMonitor/spiderpool-controller',
    ]);
    const dashboard = objects.find((o) => o.kind === 'ConfigMap');
    assert.equal(dashboard?.metadata.labels?.grafana_dashboard, '1');
    assert.equal(dashboard?.data?.['dashboard.json'], readFileSync(join(MONITORING_DIR, 'dashboard.json'), 'utf8'));
  });

  it('the scrape example, with static targets in place of discovery as the harness runs it, passes promtool check config', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spiderpool-scrape-'));
    try {
      const jobs = readYaml<{ scrape_configs: { job_name: string }[] }>(SCRAPE_CONFIG).scrape_configs;
      const targets = Object.fromEntries(jobs.map((j) => [j.job_name, [{ address: '127.0.0.1:1' }]]));
      const file = join(dir, 'prometheus.yml');
      writeFileSync(file, JSON.stringify({ rule_files: [RULES], scrape_configs: scrapeConfigs(targets) }));
      const { code, output } = await promtool(['check', 'config', file]);
      assert.equal(code, 0, output);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
