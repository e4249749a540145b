// `kubectl spiderpool free [pool]`: per pool, what it can still hand out (ipam/usage.ts, on intervals), the
// longest run of free addresses, how fragmented the rest is, and when it runs out at the net allocation rate the
// agents' IPAllocated and IPReleased events show (the apiserver keeps events for an hour by default).
import type { SpiderIPPool } from '../api/v2beta1/types.ts';
import { poolFamily } from '../ipam/records.ts';
import type { IPSet } from '../lib/ip/index.ts';
import { poolUsage, reservedSet, type PoolUsage } from '../ipam/usage.ts';
import type { HistoryEntry, PluginCluster } from './cluster.ts';
import { PluginError } from './errors.ts';
import type { Report } from './output.ts';

export interface Forecast {
  /** Net addresses taken per hour over the window (allocations minus releases). */
  perHour: number;
  windowMinutes: number;
  /** Hours until the pool is full at that rate; absent when it does not grow. */
  hoursLeft?: number;
}

export interface PoolFree {
  pool: string;
  subnet: string;
  total?: bigint;
  allocated?: bigint;
  free?: bigint;
  largestFree?: PoolUsage['largestFree'];
  freeRuns?: number;
  forecast?: Forecast;
  /** Why the pool's figures cannot be computed. */
  problem?: string;
}

export async function free(cluster: PluginCluster, poolName: string | undefined): Promise<Report> {
  const [all, reserved, history] = await Promise.all([
    cluster.pools(),
    cluster.reservedIPs(),
    cluster.history(poolName),
  ]);
  const pools = poolName === undefined ? all : all.filter((p) => p.metadata.name === poolName);
  if (poolName !== undefined && pools.length === 0) throw new PluginError(`SpiderIPPool "${poolName}" not found`);
  const now = Date.now();
  const results = pools
    .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1))
    .map((pool) => describe(pool, reservedSet(reserved, poolFamily(pool)), history, now));
  const rows = results.map((r) => [
    r.pool,
    r.subnet,
    String(r.total ?? '-'),
    String(r.allocated ?? '-'),
    String(r.free ?? '-'),
    r.largestFree ? `${r.largestFree.first}-${r.largestFree.last} (${r.largestFree.size})` : '-',
    r.freeRuns === undefined ? '-' : String(r.freeRuns),
    forecastText(r),
  ]);
  return {
    tables: [
      { headers: ['POOL', 'SUBNET', 'TOTAL', 'ALLOCATED', 'FREE', 'LARGEST FREE RANGE', 'FREE RUNS', 'FULL IN'], rows },
    ],
    notes: results.flatMap((r) => (r.problem ? [`SpiderIPPool ${r.pool}: ${r.problem}`] : [])),
    data: { pools: results },
    ok: results.every((r) => r.problem === undefined),
  };
}

function describe(pool: SpiderIPPool, reserved: IPSet, history: HistoryEntry[], now: number): PoolFree {
  const name = pool.metadata.name;
  const base = { pool: name, subnet: pool.spec.subnet };
  let usage;
  try {
    usage = poolUsage(pool, reserved);
  } catch (err) {
    return { ...base, problem: err instanceof Error ? err.message : String(err) };
  }
  const forecast = forecastOf(
    history.filter((h) => h.pool === name),
    usage.free.count(),
    now,
  );
  return {
    ...base,
    total: usage.total,
    allocated: usage.allocated,
    free: usage.free.count(),
    ...(usage.largestFree ? { largestFree: usage.largestFree } : {}),
    freeRuns: usage.freeRuns,
    ...(forecast ? { forecast } : {}),
  };
}

function forecastOf(events: HistoryEntry[], freeCount: bigint, now: number): Forecast | undefined {
  const first = events[0];
  if (!first) return undefined;
  const hours = Math.max(now - first.time.getTime(), 60_000) / 3_600_000;
  const net = events.reduce((n, e) => n + (e.kind === 'allocated' ? 1 : -1), 0);
  const perHour = net / hours;
  return {
    perHour: Math.round(perHour * 10) / 10,
    windowMinutes: Math.round(hours * 60),
    ...(perHour > 0 ? { hoursLeft: Math.round((Number(freeCount) / perHour) * 10) / 10 } : {}),
  };
}

function forecastText({ forecast, problem, free }: PoolFree): string {
  if (problem) return 'unreadable';
  if (free === 0n) return 'full now';
  if (!forecast) return 'no history';
  const rate = `${forecast.perHour >= 0 ? '+' : ''}${forecast.perHour}/h over ${forecast.windowMinutes}m`;
  return forecast.hoursLeft === undefined ? `not growing (${rate})` : `~${forecast.hoursLeft}h (${rate})`;
}
