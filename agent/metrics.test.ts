import assert from 'node:assert/strict';
import { AgentFailure } from './errors.ts';
import { AgentMetrics } from './metrics.ts';

/** A sample's value; histogram series (`_count`, `_sum`, `_bucket`) are found under their histogram. */
async function value(metrics: AgentMetrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const all = await metrics.registry.getMetricsAsJSON();
  const metric = all.find((m) => m.name === name) ?? all.find((m) => name.startsWith(`${m.name}_`));
  assert.ok(metric, `${name} is registered`);
  const sample = metric.values.find(
    (v) =>
      ((v as { metricName?: string }).metricName ?? metric.name) === name &&
      Object.entries(labels).every(([k, l]) => (v.labels as Record<string, string>)[k] === l),
  );
  return sample?.value ?? 0;
}

const fail = (reason?: ConstructorParameters<typeof AgentFailure>[0]) => () =>
  Promise.reject(reason ? new AgentFailure(reason, 'refused') : new Error('boom'));

describe('agent metrics', () => {
  it('counts each failed ADD by reason and in the one class Spiderpool names for it', async () => {
    const m = new AgentMetrics();
    for (const reason of ['IPUsedOut', 'IPUsedOut', 'NoAvailablePool', 'RetriesExhausted', 'WrongInput'] as const)
      await assert.rejects(m.time('allocate', fail(reason)));
    await assert.rejects(m.time('allocate', fail()));
    await m.time('allocate', async () => 'ok');

    assert.equal(await value(m, 'spiderpool_ipam_allocation_counts_total'), 7);
    const failures = 'spiderpool_ipam_allocation_failure_counts_total';
    assert.equal(await value(m, failures, { reason: 'IPUsedOut' }), 2);
    assert.equal(await value(m, failures, { reason: 'Internal' }), 1);
    assert.equal(await value(m, 'spiderpool_ipam_allocation_err_ip_used_out_counts_total'), 2);
    assert.equal(await value(m, 'spiderpool_ipam_allocation_err_no_available_pool_counts_total'), 1);
    // Spiderpool counts bad input as retries exhausted; here it is not retries, so it is internal.
    assert.equal(await value(m, 'spiderpool_ipam_allocation_err_retries_exhausted_counts_total'), 1);
    assert.equal(await value(m, 'spiderpool_ipam_allocation_err_internal_counts_total'), 2);
  });

  it('counts failed DELs as retries exhausted or internal', async () => {
    const m = new AgentMetrics();
    await assert.rejects(m.time('release', fail('RetriesExhausted')));
    await assert.rejects(m.time('release', fail('Unavailable')));
    await assert.rejects(m.time('release', fail()));
    assert.equal(await value(m, 'spiderpool_ipam_release_counts_total'), 3);
    assert.equal(await value(m, 'spiderpool_ipam_release_err_retries_exhausted_counts_total'), 1);
    assert.equal(await value(m, 'spiderpool_ipam_release_err_internal_counts_total'), 2);
    assert.equal(await value(m, 'spiderpool_ipam_allocation_err_internal_counts_total'), 0);
  });

  it('keeps the average, maximum, minimum and latest duration since start', async () => {
    const m = new AgentMetrics();
    const pause = (ms: number) => () => new Promise((r) => setTimeout(r, ms));
    const start = process.hrtime.bigint();
    await m.time('allocate', pause(40));
    const longest = Number(process.hrtime.bigint() - start) / 1e9;
    await m.time('allocate', pause(1));
    const stat = (s: string) => value(m, `spiderpool_ipam_allocation_${s}_duration_seconds`);
    const [average, max, min, latest] = await Promise.all(['average', 'max', 'min', 'latest'].map(stat));
    assert.ok(max! <= longest && max! > 0.03 && min! < max!, `max ${max}, min ${min}, longest ${longest}`);
    assert.equal(latest, min);
    assert.ok(Math.abs(average! - (max! + min!) / 2) < 1e-9, `average ${average}`);
    assert.equal(await value(m, 'spiderpool_ipam_allocation_duration_seconds_count'), 2);
    assert.equal(await value(m, 'spiderpool_ipam_release_max_duration_seconds'), 0);
  });

  it('times the wait for a pod’s turn separately for ADD and DEL', async () => {
    const m = new AgentMetrics();
    const turn = m.waiting('release');
    // A timer may fire up to a millisecond early, so the wait is measured here, inside the metric's own.
    const start = process.hrtime.bigint();
    await new Promise((r) => setTimeout(r, 20));
    const waited = Number(process.hrtime.bigint() - start) / 1e9;
    turn();
    assert.equal(await value(m, 'spiderpool_ipam_release_limit_duration_seconds_count'), 1);
    const max = await value(m, 'spiderpool_ipam_release_max_limit_duration_seconds');
    assert.ok(max >= waited && waited > 0.01, `max ${max}, waited ${waited}`);
    assert.equal(await value(m, 'spiderpool_ipam_allocation_limit_duration_seconds_count'), 0);
  });

  it('counts a refused pool write as an allocation conflict, a release conflict or both, by what it carried', async () => {
    const m = new AgentMetrics();
    m.conflict('p', new Set(['allocate']));
    m.conflict('p', new Set(['rebind']));
    m.conflict('p', new Set(['release']));
    m.conflict('p', new Set(['allocate', 'release']));
    assert.equal(await value(m, 'spiderpool_ipam_allocation_update_ippool_conflict_counts_total'), 3);
    assert.equal(await value(m, 'spiderpool_ipam_release_update_ippool_conflict_counts_total'), 2);
  });
});
