// Pool selection for one CNI ADD (docs/pool-selection.md): which pools to try, per NIC and family, in which order.
// Allocation itself (free IPs, reserved IPs, exhaustion) happens later and walks these lists.
import type { SpiderIPPool } from '../../api/v2beta1/types.ts';
import { parsePodIPAMAnnotations } from './annotations.ts';
import { generateCandidates, RULE_SOURCE, type NicCandidates } from './candidates.ts';
import { noAvailablePool, noPoolFor } from './errors.ts';
import { judgeFamily, lazyNetwork } from './judge.ts';
import { sortBySpecificity } from './order.ts';
import type { Family } from '../../lib/ip/index.ts';
import type { NicPlan, SelectionInput, SelectionResult } from './types.ts';

const FAMILIES: Family[] = [4, 6];

/**
 * Plans the NICs of the pod. With `ipam.spidernet.io/ippools` every NIC listed is planned, in annotation
 * order; otherwise only the NIC of this call. Throws SelectionError.
 */
export function selectPools(input: SelectionInput): SelectionResult {
  const annotations = parsePodIPAMAnnotations(input.pod.metadata?.annotations);
  const { rule, nics } = generateCandidates(input, annotations);
  const source = RULE_SOURCE[rule];

  // Other NICs listed by `ippools` may legitimately get nothing (their CNI may use another IPAM), but the
  // NIC of this call asked this IPAM for an address.
  const current = nics.find((c) => c.nic === input.ifName);
  if (current && current.ipv4.names.length === 0 && current.ipv6.names.length === 0) {
    const why = [current.ipv4.absent, current.ipv6.absent].filter((w) => w !== undefined);
    throw noAvailablePool(`${noPoolFor(current.nic, undefined, input.pod, source)}: ${why.join('; ')}`);
  }

  const byName = new Map(input.pools.map((pool) => [pool.metadata.name, pool]));
  for (const c of nics) {
    for (const family of FAMILIES) {
      const missing = familyOf(c, family).filter((name) => !byName.has(name));
      if (missing.length > 0) {
        const names = missing.map((name) => `"${name}"`).join(', ');
        throw noAvailablePool(
          `${noPoolFor(c.nic, family, input.pod, source)}: IPPool ${names} ${missing.length > 1 ? 'do' : 'does'} not exist`,
        );
      }
    }
  }

  return { rule, nics: nics.map((c) => planNic(input, c, byName, source)) };
}

function planNic(input: SelectionInput, c: NicCandidates, byName: Map<string, SpiderIPPool>, source: string): NicPlan {
  const network = lazyNetwork(input, c);
  const plan = (family: Family): string[] => {
    const names = familyOf(c, family);
    if (names.length === 0) return [];
    const pools = names.map((name) => byName.get(name) as SpiderIPPool);
    const verdicts = judgeFamily(input, c, family, pools, network);
    const kept = verdicts.flatMap((v) => (v.reason === undefined ? [v.pool] : []));
    if (kept.length === 0) {
      const rejected = verdicts.map((v) => `pool "${v.pool.metadata.name}": ${v.reason}`);
      throw noAvailablePool(`${noPoolFor(c.nic, family, input.pod, source)}: ${rejected.join('; ')}`);
    }
    return sortBySpecificity(kept).map((pool) => pool.metadata.name);
  };

  return { nic: c.nic, cleanGateway: c.cleanGateway, ipv4: plan(4), ipv6: plan(6) };
}

const familyOf = (c: NicCandidates, family: Family): string[] => (family === 4 ? c.ipv4.names : c.ipv6.names);
