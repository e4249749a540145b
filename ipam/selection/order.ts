// The try order among the pools that survived filtering (docs/pool-selection.md#ordering): the more affinities a pool
// declares, the more specifically it was meant for pods like this one, so it goes first.
import type { SpiderIPPool } from '../../api/v2beta1/types.ts';

// Compared in this order; the first difference decides.
const SPECIFICITY: ((pool: SpiderIPPool) => boolean)[] = [
  (p) => Boolean(p.spec.podAffinity),
  (p) => (p.spec.nodeName?.length ?? 0) > 0,
  (p) => Boolean(p.spec.nodeAffinity),
  (p) => (p.spec.namespaceName?.length ?? 0) > 0,
  (p) => Boolean(p.spec.namespaceAffinity),
  (p) => (p.spec.multusName?.length ?? 0) > 0,
];

/**
 * Most specific first. Upstream sorts a list rebuilt from a Go map with an unstable sort, so pools of
 * equal specificity come out in a different order on each request, although the documentation promises
 * the order the user wrote. The sort here is stable: ties keep the order the selection rule produced
 * (the annotation's order, or by name for wildcard matches and cluster defaults).
 */
export function sortBySpecificity(pools: SpiderIPPool[]): SpiderIPPool[] {
  return [...pools].sort((a, b) => {
    for (const has of SPECIFICITY) {
      const diff = Number(has(b)) - Number(has(a));
      if (diff !== 0) return diff;
    }
    return 0;
  });
}
