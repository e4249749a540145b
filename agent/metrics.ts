// Prometheus metrics of the agent, named as Spiderpool exposes them on the wire (counters end in _total)
// so existing dashboards keep working.
import { Counter, Histogram, Registry, collectDefaultMetrics, exponentialBuckets } from 'prom-client';

export class AgentMetrics {
  readonly registry: Registry;
  private readonly allocations: Counter;
  private readonly allocationFailures: Counter<'reason'>;
  private readonly allocationSeconds: Histogram;
  private readonly releases: Counter;
  private readonly releaseFailures: Counter<'reason'>;
  private readonly releaseSeconds: Histogram;
  private readonly conflicts: Counter;
  private readonly batchSize: Histogram;

  /** The agent's series on `registry` (the daemon shell's, served on /metrics). */
  constructor(registry = new Registry()) {
    this.registry = registry;
    const registers = [registry];
    this.allocations = new Counter({
      name: 'spiderpool_ipam_allocation_counts_total',
      help: 'IPAM ADD requests',
      registers,
    });
    this.allocationFailures = new Counter({
      name: 'spiderpool_ipam_allocation_failure_counts_total',
      help: 'IPAM ADD requests that failed, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.allocationSeconds = new Histogram({
      name: 'spiderpool_ipam_allocation_duration_seconds',
      help: 'time to answer an IPAM ADD',
      buckets: exponentialBuckets(0.001, 2, 14),
      registers,
    });
    this.releases = new Counter({ name: 'spiderpool_ipam_release_counts_total', help: 'IPAM DEL requests', registers });
    this.releaseFailures = new Counter({
      name: 'spiderpool_ipam_release_failure_counts_total',
      help: 'IPAM DEL requests that failed, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.releaseSeconds = new Histogram({
      name: 'spiderpool_ipam_release_duration_seconds',
      help: 'time to answer an IPAM DEL',
      buckets: exponentialBuckets(0.001, 2, 14),
      registers,
    });
    this.conflicts = new Counter({
      name: 'spiderpool_ipam_allocation_update_ippool_conflict_counts_total',
      help: 'pool status writes refused because another writer was first',
      registers,
    });
    this.batchSize = new Histogram({
      name: 'spiderpool_ipam_pool_write_batch_size',
      help: 'requests folded into one pool status write',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers,
    });
    collectDefaultMetrics({ register: registry, prefix: 'spiderpool_agent_' });
  }

  async time<T>(kind: 'allocate' | 'release', work: () => Promise<T>): Promise<T> {
    const [count, seconds, failures] =
      kind === 'allocate'
        ? [this.allocations, this.allocationSeconds, this.allocationFailures]
        : [this.releases, this.releaseSeconds, this.releaseFailures];
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
    this.conflicts.inc();
  }

  batch(size: number): void {
    this.batchSize.observe(size);
  }
}
