// Turns a list of pool names and patterns, as a rule found it, into the candidate pool names.
import type { SpiderIPPool } from '../../api/v2beta1/types.ts';
import { wrongInput } from './errors.ts';
import { BadPatternError, compileGlob, isPattern, type Glob } from './glob.ts';
import type { Family } from '../../lib/ip/index.ts';
import { poolFamily } from '../records.ts';

export interface Expansion {
  names: string[];
  /** Patterns that matched no pool of the family. */
  unmatched: string[];
}

/**
 * Expands patterns against the pools of the family and keeps literal names as they are (a missing pool
 * is reported later with the others). Order: as written, and each pattern's matches by name, which is
 * the order the API server lists pools in, so the result does not depend on the order of the agent's cache.
 *
 * A name written twice is a mistake and refused. A pool matched by a pattern after it was already listed,
 * literally or by an earlier pattern, keeps its first place, so `["fast-pool", "*"]` means "fast-pool
 * first, then any other".
 */
export function expandPoolNames(entries: string[], family: Family, pools: SpiderIPPool[], where: string): Expansion {
  const names: string[] = [];
  const unmatched: string[] = [];
  const taken = new Set<string>();
  const literals = new Set<string>();
  let familyPools: string[] | undefined;

  const take = (name: string): void => {
    if (taken.has(name)) return;
    taken.add(name);
    names.push(name);
  };

  for (const entry of entries) {
    if (!isPattern(entry)) {
      if (literals.has(entry)) throw wrongInput(`duplicate IPPool "${entry}" in ${where}`);
      literals.add(entry);
      take(entry);
      continue;
    }
    let re: Glob;
    try {
      re = compileGlob(entry);
    } catch (err) {
      if (err instanceof BadPatternError) throw wrongInput(`invalid pool name pattern in ${where}: ${err.message}`);
      throw err;
    }
    familyPools ??= pools
      .filter((p) => poolFamily(p) === family)
      .map((p) => p.metadata.name)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const matched = familyPools.filter((name) => re.test(name));
    if (matched.length === 0) unmatched.push(entry);
    matched.forEach(take);
  }
  return { names, unmatched };
}
