// The filters applied to one family's candidate pools of one NIC, with each pool's verdict: the agent keeps the
// usable ones (select.ts) and `kubectl spiderpool why` shows every verdict (explain.ts), from the same call.
import type { SpiderIPPool } from '../../api/v2beta1/types.ts';
import type { NicCandidates } from './candidates.ts';
import { rejectReason } from './filters.ts';
import { nicNetwork, type NicNetwork } from './multus.ts';
import type { Family } from '../../lib/ip/index.ts';
import type { SelectionInput } from './types.ts';

export interface PoolVerdict {
  pool: SpiderIPPool;
  /** Why the pod cannot use the pool; undefined when it can. */
  reason?: string;
}

/** The network of the NIC, resolved at most once and only when a pool with multusName asks for it. */
export function lazyNetwork(input: SelectionInput, c: NicCandidates): () => NicNetwork {
  let network: NicNetwork | undefined;
  return () =>
    (network ??= nicNetwork({
      pod: input.pod,
      nic: c.nic,
      firstNic: c.firstNic,
      installNamespace: input.installNamespace,
      ...(input.multusClusterNetwork === undefined ? {} : { multusClusterNetwork: input.multusClusterNetwork }),
    }));
}

/** Each existing candidate of the family, in the order the rule produced them. */
export function judgeFamily(
  input: SelectionInput,
  c: NicCandidates,
  family: Family,
  pools: SpiderIPPool[],
  network: () => NicNetwork,
): PoolVerdict[] {
  return pools.map((pool) => ({
    pool,
    reason: rejectReason(pool, {
      pod: input.pod,
      namespace: input.namespace,
      node: input.node,
      top: input.topController,
      nic: c.nic,
      family,
      installNamespace: input.installNamespace,
      network,
    }),
  }));
}
