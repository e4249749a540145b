// Rule 1 of pool selection (docs/pool-selection.md#rules): the pools the subnet controller created for the pod's
// application. The controller creates and sizes them asynchronously; the agent only finds them.
import type { SpiderIPPool } from '../../api/v2beta1/types.ts';
import { AUTO_POOL_LABEL } from '../../api/v2beta1/constants.ts';
import { noAvailablePool, wrongInput } from './errors.ts';
import type { Family } from '../../lib/ip/index.ts';
import type { TopController } from '../owner.ts';

export interface AutoPoolQuery {
  pools: SpiderIPPool[];
  top: TopController;
  nic: string;
  family: Family;
  /** The SpiderSubnet the annotation names for this NIC and family. */
  subnet: string;
  /** Start of the error message: which NIC, family and pod. */
  context: string;
  annotation: string;
}

/**
 * The application's auto pool for the NIC and family. Its absence is NoAvailablePool: the agent may
 * retry while the controller catches up.
 */
export function findAutoPool(q: AutoPoolQuery): SpiderIPPool {
  const app = `${q.top.kind} ${q.top.namespace}/${q.top.name}`;
  const found = q.pools.filter((pool) => {
    const labels = pool.metadata.labels ?? {};
    return (
      labels[AUTO_POOL_LABEL.ownerApplicationUID] === q.top.uid &&
      labels[AUTO_POOL_LABEL.interface] === q.nic &&
      labels[AUTO_POOL_LABEL.ipVersion] === `IPv${q.family}`
    );
  });
  const [pool, ...others] = found;
  if (pool === undefined) {
    throw noAvailablePool(
      `${q.context}: the auto-created IPPool for ${app} and interface ${q.nic} does not exist yet; ` +
        `the controller creates it from SpiderSubnet "${q.subnet}"`,
    );
  }
  if (others.length > 0) {
    const names = found.map((p) => `"${p.metadata.name}"`).join(', ');
    throw noAvailablePool(
      `${q.context}: ${app} has several auto-created IPv${q.family} IPPools for interface ${q.nic} (${names}); delete all but one`,
    );
  }
  const owner = pool.metadata.labels?.[AUTO_POOL_LABEL.ownerSpiderSubnet];
  if (owner !== undefined && owner !== q.subnet) {
    throw wrongInput(
      `${q.context}: ${q.annotation} names SpiderSubnet "${q.subnet}", but the auto-created IPPool "${pool.metadata.name}" of ${app} ` +
        `was carved from SpiderSubnet "${owner}"; an application cannot change its subnet, recreate it instead`,
    );
  }
  return pool;
}
