// What other objects hold: the pods' addresses in SpiderIPPool.status.allocatedIPs and the addresses a
// SpiderSubnet set aside for its pools in status.controlledIPPools.
import type { PoolIPAllocation, SpiderIPPool, SpiderSubnet } from '../../api/v2beta1/types.ts';
import { parseRecords } from '../../ipam/records.ts';

/** The pool's allocation records; empty when the status cannot be read. */
export function allocations(pool: SpiderIPPool): Map<string, PoolIPAllocation> {
  try {
    return parseRecords(pool);
  } catch {
    return new Map();
  }
}

/** How many addresses the pool has handed out, falling back on the counter when the records cannot be read. */
export function allocatedCount(pool: SpiderIPPool): number {
  return allocations(pool).size || (pool.status?.allocatedIPCount ?? 0);
}

/** Pool name → the ranges the subnet set aside for it; empty when the status cannot be read. */
export function controlledIPPools(subnet: SpiderSubnet): Map<string, string[]> {
  const raw = subnet.status?.controlledIPPools;
  if (!raw) return new Map();
  try {
    const parsed = JSON.parse(raw) as Record<string, { ips?: unknown }> | null;
    if (typeof parsed !== 'object' || parsed === null) return new Map();
    return new Map(
      Object.entries(parsed).map(([name, entry]) => [
        name,
        Array.isArray(entry?.ips) ? entry.ips.filter((r): r is string => typeof r === 'string') : [],
      ]),
    );
  } catch {
    return new Map();
  }
}
