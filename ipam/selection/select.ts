// Pool selection for one CNI ADD (docs/pool-selection.md): which pools to try, per NIC and family, in which order.
// Allocation itself (free IPs, reserved IPs, exhaustion) happens later and walks these lists.
import type { SpiderIPPool } from '../../api/v2beta1/types.ts';
import { parsePodIPAMAnnotations } from './annotations.ts';
import { generateCandidates, RULE_SOURCE, type NicCandidates } from './candidates.ts';
import { noAvailablePool, noPoolFor } from './errors.ts';
import { rejectReason } from './filters.ts';
import { nicNetwork, type NicNetwork } from './multus.ts';
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
  let network: NicNetwork | undefined;
  const resolveNetwork = (): NicNetwork =>
    (network ??= nicNetwork({
      pod: input.pod,
      nic: c.nic,
      firstNic: c.firstNic,
      installNamespace: input.installNamespace,
      ...(input.multusClusterNetwork === undefined ? {} : { multusClusterNetwork: input.multusClusterNetwork }),
    }));

  const plan = (family: Family): string[] => {
    const names = familyOf(c, family);
    if (names.length === 0) return [];
    const kept: SpiderIPPool[] = [];
    const rejected: string[] = [];
    for (const name of names) {
      const pool = byName.get(name) as SpiderIPPool;
      const why = rejectReason(pool, {
        pod: input.pod,
        namespace: input.namespace,
        node: input.node,
        top: input.topController,
        nic: c.nic,
        family,
        installNamespace: input.installNamespace,
        network: resolveNetwork,
      });
      if (why === undefined) kept.push(pool);
      else rejected.push(`pool "${name}": ${why}`);
    }
    if (kept.length === 0)
      throw noAvailablePool(`${noPoolFor(c.nic, family, input.pod, source)}: ${rejected.join('; ')}`);
    return sortBySpecificity(kept).map((pool) => pool.metadata.name);
  };

  return { nic: c.nic, cleanGateway: c.cleanGateway, ipv4: plan(4), ipv6: plan(6) };
}

const familyOf = (c: NicCandidates, family: Family): string[] => (family === 4 ? c.ipv4.names : c.ipv6.names);
