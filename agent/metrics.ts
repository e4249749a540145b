// Prometheus metrics of the agent, named as Spiderpool exposes them on the wire (counters end in _total)
// so existing dashboards keep working.
import { Registry, collectDefaultMetrics, exponentialBuckets } from 'prom-client';
import { counter, declareMetrics, histogram } from '../lib/metrics.ts';

const REQUEST_SECONDS = exponentialBuckets(0.001, 2, 14);

const SERIES = {
  allocations: counter('spiderpool_ipam_allocation_counts_total', 'IPAM ADD requests'),
  allocationFailures: counter(
    'spiderpool_ipam_allocation_failure_counts_total',
    'IPAM ADD requests that failed, by reason',
    ['reason'],
  ),
  allocationSeconds: histogram(
    'spiderpool_ipam_allocation_duration_seconds',
    'time to answer an IPAM ADD',
    REQUEST_SECONDS,
  ),
  releases: counter('spiderpool_ipam_release_counts_total', 'IPAM DEL requests'),
  releaseFailures: counter('spiderpool_ipam_release_failure_counts_total', 'IPAM DEL requests that failed, by reason', [
    'reason',
  ]),
  releaseSeconds: histogram('spiderpool_ipam_release_duration_seconds', 'time to answer an IPAM DEL', REQUEST_SECONDS),
  conflicts: counter(
    'spiderpool_ipam_allocation_update_ippool_conflict_counts_total',
    'pool status writes refused because another writer was first',
  ),
  batchSize: histogram(
    'spiderpool_ipam_pool_write_batch_size',
    'requests folded into one pool status write',
    [1, 2, 4, 8, 16, 32, 64, 128, 256],
  ),
};

export class AgentMetrics {
  private readonly series;

  /** The agent's series on `registry` (the daemon shell's, served on /metrics). */
  constructor(readonly registry = new Registry()) {
    this.series = declareMetrics(registry, SERIES);
    collectDefaultMetrics({ register: registry, prefix: 'spiderpool_agent_' });
  }

  async time<T>(kind: 'allocate' | 'release', work: () => Promise<T>): Promise<T> {
    const m = this.series;
    const [count, seconds, failures] =
      kind === 'allocate'
        ? [m.allocations, m.allocationSeconds, m.allocationFailures]
        : [m.releases, m.releaseSeconds, m.releaseFailures];
    count.inc();
    const end = seconds.startTimer();
    try {
      return await work();
    } catch (err) {
      failures.inc({ reason: (err as { reason?: string }).reason ?? 'Internal' });
      throw err;
    } finally {
      end();
    }
  }

  conflict(_pool: string): void {
    this.series.conflicts.inc();
  }

  batch(size: number): void {
    this.series.batchSize.observe(size);
  }
}
