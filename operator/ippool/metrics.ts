// Per-pool gauges, computed from the watch cache at scrape time, so a scrape always shows the pools that
// exist now (a deleted pool's series disappear with it) and works on every replica, not only the leader.
import { Gauge, type Registry } from 'prom-client';
import type { SpiderIPPool } from '../../api/v2beta1/types.ts';
import type { Logger } from '../../lib/log.ts';
import { orError } from '../or-error.ts';
import type { ReadCache } from '../runtime/types.ts';
import type { Overlap } from './overlap.ts';
import { InvalidPool, type PoolCounts, poolCounts } from './status.ts';

export function registerPoolMetrics(
  registry: Registry,
  pools: ReadCache<SpiderIPPool>,
  log: Logger,
  overlaps: () => Map<string, Overlap[]>,
): void {
  const registers = [registry];
  const labelNames = ['SpiderIPPool'] as const;
  const perPool = (set: (pool: string, counts: PoolCounts) => void) => {
    for (const pool of pools.list()) {
      const counts = orError(() => poolCounts(pool), InvalidPool);
      if (counts instanceof InvalidPool)
        log.debug('pool left out of the metrics', { pool: pool.metadata.name, err: counts.message });
      else set(pool.metadata.name, counts);
    }
  };
  new Gauge({
    name: 'spiderpool_debug_ippool_total_ip_counts',
    help: 'IPs of the pool: |ips − excludeIPs|',
    labelNames,
    registers,
    collect() {
      this.reset();
      perPool((pool, c) => this.set({ SpiderIPPool: pool }, c.total));
    },
  });
  new Gauge({
    name: 'spiderpool_debug_ippool_allocated_ip_counts',
    help: 'IPs of the pool allocated to pods',
    labelNames,
    registers,
    collect() {
      this.reset();
      perPool((pool, c) => this.set({ SpiderIPPool: pool }, c.allocated));
    },
  });
  new Gauge({
    name: 'spiderpool_debug_ippool_available_ip_counts',
    help: 'IPs of the pool not allocated: total − allocated',
    labelNames,
    registers,
    collect() {
      this.reset();
      perPool((pool, c) => this.set({ SpiderIPPool: pool }, Math.max(0, c.total - c.allocated)));
    },
  });
  new Gauge({
    name: 'spiderpool_ippool_overlaps',
    help: 'Other SpiderIPPools that share addresses with the pool (0 unless pools were admitted together)',
    labelNames,
    registers,
    collect() {
      this.reset();
      const found = overlaps();
      for (const pool of pools.list())
        this.set({ SpiderIPPool: pool.metadata.name }, found.get(pool.metadata.name)?.length ?? 0);
    },
  });
  new Gauge({
    name: 'spiderpool_total_ippool_counts',
    help: 'Number of SpiderIPPools',
    registers,
    collect() {
      this.set(pools.list().length);
    },
  });
}
