// GC series (docs/metrics.md#garbage-collector). Counters carry `_total`, the name Spiderpool's exporter gives them on
// the wire and its dashboards query. One set per registry: the GC and the StatefulSet retention reconcilers share it.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { PoolRecord, ReleaseReason } from './decide.ts';

export interface WouldRelease {
  record: PoolRecord;
  reason: ReleaseReason;
}

export interface GcMetrics {
  /** Release writes attempted, one per pool touched. */
  attempts: Counter;
  failures: Counter;
  released: Counter<'reason'>;
  endpointsDeleted: Counter;
  conflicts: Counter;
  scans: Counter;
  /** Dry run: what the latest look at each record would have freed, keyed by pool/ip/podUid. */
  wouldRelease: Map<string, WouldRelease>;
}

const perRegistry = new WeakMap<Registry, GcMetrics>();

export function gcMetrics(registry: Registry): GcMetrics {
  const known = perRegistry.get(registry);
  if (known) return known;
  const registers = [registry];
  const wouldRelease = new Map<string, WouldRelease>();
  new Gauge({
    name: 'spiderpool_ip_gc_dry_run_pending_ips',
    help: 'Dry run: pool records the garbage collector would free, by reason',
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset();
      for (const { reason } of wouldRelease.values()) this.inc({ reason });
    },
  });
  const metrics: GcMetrics = {
    attempts: new Counter({
      name: 'spiderpool_ip_gc_counts_total',
      help: 'IP release attempts made by the garbage collector, one per pool touched',
      registers,
    }),
    failures: new Counter({
      name: 'spiderpool_ip_gc_failure_counts_total',
      help: 'Garbage collector releases or endpoint deletions that failed',
      registers,
    }),
    released: new Counter({
      name: 'spiderpool_ip_gc_released_ip_counts_total',
      help: 'Pool records freed by the garbage collector, by reason',
      labelNames: ['reason'],
      registers,
    }),
    endpointsDeleted: new Counter({
      name: 'spiderpool_ip_gc_deleted_endpoint_counts_total',
      help: 'SpiderEndpoints deleted by the garbage collector',
      registers,
    }),
    conflicts: new Counter({
      name: 'spiderpool_ipam_release_update_ippool_conflict_counts_total',
      help: 'Conflicts while writing pool status during release',
      registers,
    }),
    scans: new Counter({
      name: 'spiderpool_ip_gc_full_scan_counts_total',
      help: 'Completed full scans of every pool record and SpiderEndpoint',
      registers,
    }),
    wouldRelease,
  };
  perRegistry.set(registry, metrics);
  return metrics;
}
