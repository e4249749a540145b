// Pool selection explained (`kubectl spiderpool why`): every candidate pool of every NIC and family in the order the
// rule produced them, with the filters' verdict on each, and the agent's own answer for the same input.
import { parsePodIPAMAnnotations } from './annotations.ts';
import { generateCandidates, RULE_SOURCE, type FamilyCandidates } from './candidates.ts';
import { SelectionError, type SelectionErrorReason } from './errors.ts';
import { judgeFamily, lazyNetwork } from './judge.ts';
import { sortBySpecificity } from './order.ts';
import { selectPools } from './select.ts';
import type { Family } from '../../lib/ip/index.ts';
import type { NicPlan, SelectionInput, SelectionRule } from './types.ts';

export interface CandidateVerdict {
  pool: string;
  /** Why the pod cannot use the pool; undefined when it can. */
  refused?: string;
}

export interface FamilyExplanation {
  family: Family;
  candidates: CandidateVerdict[];
  /** The usable pools in the order the agent tries them. */
  tryOrder: string[];
  /** Why there are no candidates at all. */
  absent?: string;
}

export interface NicExplanation {
  nic: string;
  families: FamilyExplanation[];
}

export interface SelectionExplanation {
  rule?: SelectionRule;
  /** How error messages name the rule. */
  source?: string;
  nics: NicExplanation[];
  /** What selectPools answers for this input: the plan, or the error the agent would return. */
  outcome: { plan: NicPlan[] } | { error: { reason: SelectionErrorReason; message: string } };
}

const FAMILIES: Family[] = [4, 6];

export function explainSelection(input: SelectionInput): SelectionExplanation {
  let outcome: SelectionExplanation['outcome'];
  try {
    outcome = { plan: selectPools(input).nics };
  } catch (err) {
    if (!(err instanceof SelectionError)) throw err;
    outcome = { error: { reason: err.reason, message: err.message } };
  }
  let candidates;
  try {
    candidates = generateCandidates(input, parsePodIPAMAnnotations(input.pod.metadata?.annotations));
  } catch (err) {
    if (!(err instanceof SelectionError)) throw err;
    return { nics: [], outcome };
  }
  const byName = new Map(input.pools.map((pool) => [pool.metadata.name, pool]));
  const nics = candidates.nics.map((c): NicExplanation => {
    const network = lazyNetwork(input, c);
    const families = FAMILIES.map((family): FamilyExplanation => {
      const listed: FamilyCandidates = family === 4 ? c.ipv4 : c.ipv6;
      const existing = listed.names.flatMap((name) => {
        const pool = byName.get(name);
        return pool ? [pool] : [];
      });
      const verdicts = new Map(
        judgeFamily(input, c, family, existing, network).map((v) => [v.pool.metadata.name, v.reason]),
      );
      const usable = existing.filter((pool) => verdicts.get(pool.metadata.name) === undefined);
      return {
        family,
        candidates: listed.names.map((name) => {
          const refused = byName.has(name) ? verdicts.get(name) : 'does not exist';
          return refused === undefined ? { pool: name } : { pool: name, refused };
        }),
        tryOrder: sortBySpecificity(usable).map((pool) => pool.metadata.name),
        ...(listed.absent === undefined ? {} : { absent: listed.absent }),
      };
    });
    return { nic: c.nic, families };
  });
  return { rule: candidates.rule, source: RULE_SOURCE[candidates.rule], nics, outcome };
}
