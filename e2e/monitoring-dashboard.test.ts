// The Grafana dashboard of deploy/monitoring/: every query parses in Prometheus (promtool checks each one
// as a recording rule, in a group named after its panel) and names only series the product exports (read
// from its own metric declarations) or that Prometheus itself writes.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parser } from '@prometheus-io/lezer-promql';
import { stringify } from 'yaml';
import { exportedMetricNames } from './harness/exported-metrics.ts';
import { MONITORING_DIR, PROMTOOL } from './harness/prometheus.ts';

const DASHBOARD = join(MONITORING_DIR, 'dashboard.json');
/** Series Prometheus writes for every target. */
const PROMETHEUS_SERIES = new Set(['up']);
/** Grafana's variables, replaced by what Grafana would put there before a query reaches Prometheus. */
const VARIABLES: Record<string, string> = { __rate_interval: '2m', __interval: '30s', pool: '.*' };

interface Panel {
  title?: string;
  targets?: { expr?: string; refId?: string }[];
  panels?: Panel[];
}
interface Dashboard {
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: string | { query: string } }[] };
}

interface Query {
  where: string;
  expr: string;
}

function substitute(expr: string): string {
  return expr.replace(/\$\{?(\w+)\}?/g, (whole, name: string) => {
    const value = VARIABLES[name];
    if (value === undefined) throw new Error(`unknown Grafana variable ${whole} in ${expr}`);
    return value;
  });
}

function queries(dashboard: Dashboard): Query[] {
  const fromPanels = (panels: Panel[]): Query[] =>
    panels.flatMap((p) => [
      ...(p.targets ?? []).map((t) => {
        if (!t.expr) throw new Error(`panel "${p.title}" target ${t.refId} has no expr`);
        return { where: `panel "${p.title}" target ${t.refId}`, expr: substitute(t.expr) };
      }),
      ...fromPanels(p.panels ?? []),
    ]);
  // A query variable's label_values(<selector>, <label>) is checked as its selector.
  const fromVariables = dashboard.templating.list
    .filter((v) => v.type === 'query')
    .map((v) => {
      const text = typeof v.query === 'string' ? v.query : (v.query?.query ?? '');
      const selector = /^label_values\((.+),\s*\w+\)$/.exec(text)?.[1];
      if (!selector) throw new Error(`variable ${v.name}: ${text} is not label_values(<selector>, <label>)`);
      return { where: `variable ${v.name}`, expr: substitute(selector) };
    });
  return [...fromPanels(dashboard.panels), ...fromVariables];
}

/** The metric names a query selects, from the PromQL grammar Prometheus' own UI uses. */
function metricNames(expr: string): string[] {
  const names: string[] = [];
  parser.parse(expr).iterate({
    enter(node) {
      if (node.type.isError) throw new Error(`does not parse at ${node.from}: ${expr}`);
      if (node.name === 'LabelName' && expr.slice(node.from, node.to) === '__name__')
        throw new Error(`selects by __name__ instead of naming the metric: ${expr}`);
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector')
        names.push(expr.slice(node.from, node.to));
    },
  });
  return names;
}

async function promtoolCheckRules(file: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(PROMTOOL, ['check', 'rules', file]);
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** promtool's verdict on the queries, each wrapped as a recording rule in a group named after its place. */
async function checkWithPromtool(all: Query[]): Promise<{ code: number; output: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'spiderpool-dashboard-'));
  try {
    const file = join(dir, 'queries.yaml');
    const groups = all.map((q, i) => ({ name: q.where, rules: [{ record: `dashboard:query_${i}`, expr: q.expr }] }));
    writeFileSync(file, stringify({ groups }));
    return await promtoolCheckRules(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('monitoring dashboard', function () {
  this.timeout(60_000);
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
  const all = queries(dashboard);

  it('has queries for pool usage and forecast, allocation, conflicts, batches, failures, GC and webhooks', () => {
    const text = all.map((q) => q.expr).join('\n');
    for (const needed of [
      'spiderpool_debug_ippool_allocated_ip_counts',
      'predict_linear(',
      'spiderpool_ipam_allocation_counts_total',
      'spiderpool_ipam_allocation_duration_seconds_bucket',
      'spiderpool_ipam_allocation_update_ippool_conflict_counts_total',
      'spiderpool_ipam_pool_write_batch_size_bucket',
      'spiderpool_ipam_allocation_failure_counts_total',
      'spiderpool_ip_gc_released_ip_counts_total',
      'spiderpool_webhook_request_duration_seconds_bucket',
    ])
      assert.ok(text.includes(needed), `a query uses ${needed}`);
  });

  it('every query parses (promtool check rules)', async () => {
    const { code, output } = await checkWithPromtool(all);
    assert.equal(code, 0, output);
    assert.match(output, new RegExp(`SUCCESS: ${all.length} rules found`));
  });

  it('promtool refuses a query that does not parse, naming its panel', async () => {
    const { code, output } = await checkWithPromtool([
      { where: 'panel "Broken" target A', expr: 'sum(rate(spiderpool_ipam_allocation_counts_total[5m])' },
    ]);
    assert.notEqual(code, 0);
    assert.match(
      output,
      /group "panel \\"Broken\\" target A", rule 1, "dashboard:query_0": could not parse expression/,
    );
  });

  it('every query uses only metrics the product exports', () => {
    const exported = exportedMetricNames();
    const unknown = all.flatMap((q) =>
      metricNames(q.expr)
        .filter((name) => !exported.has(name) && !PROMETHEUS_SERIES.has(name))
        .map((name) => `${q.where}: ${name}`),
    );
    assert.deepEqual(unknown, []);
  });

  it('the name check catches a metric the product does not export', () => {
    const exported = exportedMetricNames();
    const names = metricNames(
      'sum(rate(spiderpool_ipam_allocation_count_total[5m])) / max(spiderpool_total_ippool_counts)',
    );
    assert.deepEqual(
      names.filter((n) => !exported.has(n)),
      ['spiderpool_ipam_allocation_count_total'],
    );
  });
});
