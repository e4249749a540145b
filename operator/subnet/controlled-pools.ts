// SpiderSubnet.status.controlledIPPools: the addresses reserved out of the subnet for each pool, `{"<pool>": {"ips":
// ["10.6.0.10-10.6.0.12"], "application": "apps_v1_Deployment_default_nginx"}}` (docs/api.md#spidersubnet,
// docs/auto-pools.md#the-subnet-ledger). It is the subnet's ledger: every carve is a write of this status with a
// resourceVersion precondition, so two writers that read the same ledger cannot both give away the same address.
import type { SpiderSubnet, SpiderSubnetStatus } from '../../api/v2beta1/types.ts';
import { IPSet } from '../../lib/ip/index.ts';
import { subnetFamily, subnetIPs } from './carve.ts';

export interface ControlledPool {
  ips: string[];
  /** Only for auto-created pools. */
  application?: string;
}

export type ControlledPools = Map<string, ControlledPool>;

export class ControlledPoolsError extends Error {
  override readonly name = 'ControlledPoolsError';
}

export function parseControlledPools(subnet: SpiderSubnet): ControlledPools {
  const raw = subnet.status?.controlledIPPools;
  if (!raw || raw === 'null') return new Map();
  const where = `SpiderSubnet ${subnet.metadata.name}: status.controlledIPPools`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new ControlledPoolsError(`${where} is not valid JSON (${(err as Error).message})`);
  }
  if (parsed === null) return new Map();
  if (typeof parsed !== 'object' || Array.isArray(parsed))
    throw new ControlledPoolsError(`${where} is not a JSON object`);
  const out: ControlledPools = new Map();
  for (const [pool, value] of Object.entries(parsed as Record<string, unknown>)) {
    const entry = value as { ips?: unknown; application?: unknown } | null;
    const ips = entry?.ips ?? [];
    if (!Array.isArray(ips) || !ips.every((ip): ip is string => typeof ip === 'string')) {
      throw new ControlledPoolsError(`${where}: "ips" of pool ${pool} is not a list of IP ranges`);
    }
    if (entry?.application !== undefined && typeof entry.application !== 'string') {
      throw new ControlledPoolsError(`${where}: "application" of pool ${pool} is not a string`);
    }
    out.set(pool, entry?.application === undefined ? { ips } : { ips, application: entry.application });
  }
  return out;
}

/** Sorted by pool name, so that equal ledgers serialize equally. */
export function serializeControlledPools(pools: ControlledPools): string | undefined {
  if (pools.size === 0) return undefined;
  const sorted = [...pools.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify(
    Object.fromEntries(
      sorted.map(([name, { ips, application }]) => [name, application === undefined ? { ips } : { ips, application }]),
    ),
  );
}

export function entryIPs(subnet: SpiderSubnet, entry: ControlledPool | undefined): IPSet {
  return IPSet.fromRanges(entry?.ips ?? [], subnetFamily(subnet));
}

/** Every address the ledger reserves, except for the pools named in `except`. */
export function reservedIPs(subnet: SpiderSubnet, pools: ControlledPools, except?: string): IPSet {
  let set = IPSet.empty(subnetFamily(subnet));
  for (const [name, entry] of pools) if (name !== except) set = set.union(entryIPs(subnet, entry));
  return set;
}

// The CRD field is an int64, but a JSON number above 2^53 loses precision; a /64 saturates here.
const toCount = (n: bigint): number => (n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n));

/**
 * The status the ledger implies: totalIPCount = |ips − excludeIPs|, allocatedIPCount = addresses reserved for pools.
 */
export function subnetStatusFor(subnet: SpiderSubnet, pools: ControlledPools): SpiderSubnetStatus {
  const family = subnetFamily(subnet);
  const allocated = [...pools.values()].reduce((sum, entry) => sum + IPSet.fromRanges(entry.ips, family).count(), 0n);
  const controlledIPPools = serializeControlledPools(pools);
  return {
    ...(controlledIPPools === undefined ? {} : { controlledIPPools }),
    totalIPCount: toCount(subnetIPs(subnet).count()),
    allocatedIPCount: toCount(allocated),
  };
}

export function sameSubnetStatus(a: SpiderSubnetStatus | undefined, b: SpiderSubnetStatus): boolean {
  return (
    (a?.controlledIPPools ?? undefined) === b.controlledIPPools &&
    a?.totalIPCount === b.totalIPCount &&
    a?.allocatedIPCount === b.allocatedIPCount
  );
}
