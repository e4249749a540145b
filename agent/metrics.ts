// Prometheus metrics of the agent, named as Spiderpool exposes them on the wire (counters end in _total)
// so existing dashboards and alert rules keep working (docs/metrics.md#agent).
import { type Counter, Registry, collectDefaultMetrics, exponentialBuckets } from 'prom-client';
import type { PoolOp } from '../ipam/pool-status.ts';
import type { AgentErrorReason } from '../lib/agent-api.ts';
import { counter, declareMetrics, durationSummary, histogram, type DurationSummary } from '../lib/metrics.ts';

const REQUEST_SECONDS = exponentialBuckets(0.001, 2, 14);
const WAIT_SECONDS = exponentialBuckets(0.0001, 2, 18);

export type AgentRequestKind = 'allocate' | 'release';

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
  allocationStats: durationSummary('spiderpool_ipam_allocation', 'duration_seconds', 'IPAM ADD duration'),
  allocationWait: histogram(
    'spiderpool_ipam_allocation_limit_duration_seconds',
    'time an IPAM ADD waited behind earlier requests of the same pod',
    WAIT_SECONDS,
  ),
  allocationWaitStats: durationSummary(
    'spiderpool_ipam_allocation',
    'limit_duration_seconds',
    'IPAM ADD wait behind earlier requests of the same pod',
  ),
  allocationConflicts: counter(
    'spiderpool_ipam_allocation_update_ippool_conflict_counts_total',
    'pool status writes carrying allocations refused because another writer was first',
  ),
  allocationInternal: counter(
    'spiderpool_ipam_allocation_err_internal_counts_total',
    'IPAM ADD failures of no more specific class',
  ),
  allocationNoPool: counter(
    'spiderpool_ipam_allocation_err_no_available_pool_counts_total',
    'IPAM ADD failures because no candidate pool was usable',
  ),
  allocationRetries: counter(
    'spiderpool_ipam_allocation_err_retries_exhausted_counts_total',
    'IPAM ADD failures after exhausting the pool write retries',
  ),
  allocationUsedOut: counter(
    'spiderpool_ipam_allocation_err_ip_used_out_counts_total',
    'IPAM ADD failures because every candidate pool was exhausted',
  ),
  releases: counter('spiderpool_ipam_release_counts_total', 'IPAM DEL requests'),
  releaseFailures: counter('spiderpool_ipam_release_failure_counts_total', 'IPAM DEL requests that failed, by reason', [
    'reason',
  ]),
  releaseSeconds: histogram('spiderpool_ipam_release_duration_seconds', 'time to answer an IPAM DEL', REQUEST_SECONDS),
  releaseStats: durationSummary('spiderpool_ipam_release', 'duration_seconds', 'IPAM DEL duration'),
  releaseWait: histogram(
    'spiderpool_ipam_release_limit_duration_seconds',
    'time an IPAM DEL waited behind earlier requests of the same pod',
    WAIT_SECONDS,
  ),
  releaseWaitStats: durationSummary(
    'spiderpool_ipam_release',
    'limit_duration_seconds',
    'IPAM DEL wait behind earlier requests of the same pod',
  ),
  releaseConflicts: counter(
    'spiderpool_ipam_release_update_ippool_conflict_counts_total',
    'pool status writes carrying releases refused because another writer was first',
  ),
  releaseInternal: counter(
    'spiderpool_ipam_release_err_internal_counts_total',
    'IPAM DEL failures of no more specific class',
  ),
  releaseRetries: counter(
    'spiderpool_ipam_release_err_retries_exhausted_counts_total',
    'IPAM DEL failures after exhausting the pool write retries',
  ),
  releasesAfterAnswer: counter(
    'spiderpool_ipam_release_after_answer_counts_total',
    'releases still waiting for their pool write when their request was answered; they go on in the background',
  ),
  batchSize: histogram(
    'spiderpool_ipam_pool_write_batch_size',
    'requests folded into one pool status write',
    [1, 2, 4, 8, 16, 32, 64, 128, 256],
  ),
};

type Series = { [K in keyof typeof SERIES]: ReturnType<(typeof SERIES)[K]['register']> };

/** Spiderpool's per-class failure counters; a reason without its own class counts as internal. */
function failureClass(series: Series, kind: AgentRequestKind, reason: string): Counter {
  if (kind === 'release') return reason === 'RetriesExhausted' ? series.releaseRetries : series.releaseInternal;
  const byReason: Partial<Record<AgentErrorReason, Counter>> = {
    NoAvailablePool: series.allocationNoPool,
    IPUsedOut: series.allocationUsedOut,
    RetriesExhausted: series.allocationRetries,
  };
  return byReason[reason as AgentErrorReason] ?? series.allocationInternal;
}

export class AgentMetrics {
  private readonly series: Series;

  /** The agent's series on `registry` (the daemon shell's, served on /metrics). */
  constructor(readonly registry = new Registry()) {
    this.series = declareMetrics(registry, SERIES);
    collectDefaultMetrics({ register: registry, prefix: 'spiderpool_agent_' });
  }

  async time<T>(kind: AgentRequestKind, work: () => Promise<T>): Promise<T> {
    const m = this.series;
    const [count, seconds, stats, failures] =
      kind === 'allocate'
        ? [m.allocations, m.allocationSeconds, m.allocationStats, m.allocationFailures]
        : [m.releases, m.releaseSeconds, m.releaseStats, m.releaseFailures];
    count.inc();
    const start = process.hrtime.bigint();
    try {
      return await work();
    } catch (err) {
      const reason = (err as { reason?: string }).reason ?? 'Internal';
      failures.inc({ reason });
      failureClass(m, kind, reason).inc();
      throw err;
    } finally {
      observe(seconds, stats, start);
    }
  }

  /** Starts timing a request's wait for its pod's turn; call the result when its turn comes. */
  waiting(kind: AgentRequestKind): () => void {
    const m = this.series;
    const [seconds, stats] =
      kind === 'allocate' ? [m.allocationWait, m.allocationWaitStats] : [m.releaseWait, m.releaseWaitStats];
    const start = process.hrtime.bigint();
    return () => observe(seconds, stats, start);
  }

  /** A refused pool status write: an allocation conflict, a release conflict, or both, by what it carried. */
  conflict(_pool: string, carried: ReadonlySet<PoolOp['kind']>): void {
    if (carried.has('allocate') || carried.has('rebind')) this.series.allocationConflicts.inc();
    if (carried.has('release')) this.series.releaseConflicts.inc();
  }

  releaseAfterAnswer(): void {
    this.series.releasesAfterAnswer.inc();
  }

  batch(size: number): void {
    this.series.batchSize.observe(size);
  }
}

function observe(histogram: { observe(v: number): void }, stats: DurationSummary, start: bigint): void {
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  histogram.observe(seconds);
  stats.observe(seconds);
}
