// The nodes where every interface of the pod can get an address, as a required node affinity the
// scheduler enforces. A node selector is a list of terms that are ORed, each a list of requirements that
// are ANDed, so unions concatenate terms and intersections pair every term of one side with every term of
// the other.
import type { V1NodeSelectorRequirement, V1NodeSelectorTerm, V1Pod } from '@kubernetes/client-node';
import type { SpiderIPPool } from '../../api/v2beta1/types.ts';
import { describeSelector } from '../../ipam/selection/index.ts';
import type { JsonPatchOperation } from '../types.ts';
import { forbidden } from './denied.ts';
import type { FamilyChoice } from './pools.ts';

/** Every node, or the nodes matching one of the terms (none for an empty list). */
export type NodeSet = 'any' | V1NodeSelectorTerm[];

/** Beyond this many terms the affinity is not injected: the pod spec would grow without bound. */
export const MAX_TERMS = 64;

const NODE_NAME_FIELD = 'metadata.name';

/** The nodes a pool serves: nodeName when non-empty, else nodeAffinity, else every node. */
export function poolNodes(pool: SpiderIPPool): NodeSet {
  const names = pool.spec.nodeName ?? [];
  // The apiserver accepts exactly one value in a metadata.name field requirement, so one term per node.
  if (names.length > 0)
    return names.map((name) => ({ matchFields: [{ key: NODE_NAME_FIELD, operator: 'In', values: [name] }] }));
  const selector = pool.spec.nodeAffinity;
  if (!selector) return 'any';
  const labels = Object.entries(selector.matchLabels ?? {}).map(([key, value]) => ({
    key,
    operator: 'In',
    values: [value],
  }));
  const expressions = (selector.matchExpressions ?? []).map((r) => ({
    key: r.key,
    operator: r.operator,
    ...(r.values ? { values: r.values } : {}),
  }));
  const matchExpressions = [...labels, ...expressions];
  // An empty selector matches every node, but an empty term matches none.
  return matchExpressions.length === 0 ? 'any' : [{ matchExpressions }];
}

export function union(sets: NodeSet[]): NodeSet {
  if (sets.some((s) => s === 'any')) return 'any';
  return unique((sets as V1NodeSelectorTerm[][]).flat());
}

export function intersection(a: NodeSet, b: NodeSet): NodeSet {
  if (a === 'any') return b;
  if (b === 'any') return a;
  return unique(a.flatMap((x) => b.map((y) => both(x, y)).filter((t): t is V1NodeSelectorTerm => t !== undefined)));
}

/** The nodes where every family of every interface has a pool that serves it. */
function servedNodes(choices: FamilyChoice[]): NodeSet {
  return choices.reduce<NodeSet>((acc, c) => intersection(acc, union(c.pools.map(poolNodes))), 'any');
}

/**
 * The patch that keeps an unscheduled pod off nodes where some interface cannot get an address: the
 * nodes its pools serve, intersected with the pod's own required node affinity. Nothing when the pools
 * serve every node; a warning instead of a patch when the result is too large to write into the pod.
 * Throws PodDenied when no node is left.
 */
export function placement(pod: V1Pod, choices: FamilyChoice[]): { patch?: JsonPatchOperation[]; warning?: string } {
  const served = servedNodes(choices);
  if (served === 'any') return {};
  if (served.length === 0)
    throw forbidden(`the SpiderIPPools it names serve no node in common: ${describePlacement(choices)}`);
  const own = podRequiredTerms(pod);
  const terms = own === undefined ? served : (intersection(own, served) as V1NodeSelectorTerm[]);
  if (terms.length === 0) {
    throw forbidden(
      `its required node affinity excludes every node its SpiderIPPools serve: ${describePlacement(choices)}`,
    );
  }
  if (terms.length > MAX_TERMS) {
    return {
      warning: `node affinity not added: the nodes its SpiderIPPools serve need ${terms.length} node selector terms (at most ${MAX_TERMS}); ${describePlacement(choices)}`,
    };
  }
  return { patch: requiredAffinityPatch(pod, terms) };
}

/** For messages: which pools each interface needs, and where they serve. */
function describePlacement(choices: FamilyChoice[]): string {
  return choices
    .map(
      (c) =>
        `${c.nics.join('/')} IPv${c.family} needs ${c.pools.map((p) => `SpiderIPPool "${p.metadata.name}" (${whereServed(p)})`).join(' or ')}`,
    )
    .join(', ');
}

function whereServed(pool: SpiderIPPool): string {
  if (pool.spec.nodeName?.length) return `nodeName [${pool.spec.nodeName.join(', ')}]`;
  if (pool.spec.nodeAffinity) return `nodeAffinity ${describeSelector(pool.spec.nodeAffinity)}`;
  return 'every node';
}

/** The terms of the pod's own required node affinity that can match a node, or undefined when it has none. */
function podRequiredTerms(pod: V1Pod): V1NodeSelectorTerm[] | undefined {
  const required = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (!required) return undefined;
  return required.nodeSelectorTerms.filter((t) => (t.matchExpressions?.length ?? 0) + (t.matchFields?.length ?? 0) > 0);
}

/** Sets the pod's required node affinity to the terms, creating the parents it lacks. */
function requiredAffinityPatch(pod: V1Pod, terms: V1NodeSelectorTerm[]): JsonPatchOperation[] {
  const required = { nodeSelectorTerms: terms };
  const affinity = pod.spec?.affinity;
  if (!affinity)
    return [
      {
        op: 'add',
        path: '/spec/affinity',
        value: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: required } },
      },
    ];
  if (!affinity.nodeAffinity)
    return [
      {
        op: 'add',
        path: '/spec/affinity/nodeAffinity',
        value: { requiredDuringSchedulingIgnoredDuringExecution: required },
      },
    ];
  const op = affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution ? 'replace' : 'add';
  return [{ op, path: '/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution', value: required }];
}

/** Both terms at once, or undefined when no node can satisfy them. */
function both(a: V1NodeSelectorTerm, b: V1NodeSelectorTerm): V1NodeSelectorTerm | undefined {
  const matchExpressions = uniqueRequirements([...(a.matchExpressions ?? []), ...(b.matchExpressions ?? [])]);
  const matchFields = uniqueRequirements([...(a.matchFields ?? []), ...(b.matchFields ?? [])]);
  if (!satisfiable(matchExpressions) || !satisfiable(matchFields)) return undefined;
  return { ...(matchExpressions.length ? { matchExpressions } : {}), ...(matchFields.length ? { matchFields } : {}) };
}

/**
 * False when the requirements on some key contradict each other: disjoint In lists, an In list wholly
 * excluded by NotIn, or DoesNotExist with a requirement that needs the key. Gt and Lt are only taken as
 * needing the key; a contradiction this misses leaves a term that simply matches no node.
 */
function satisfiable(requirements: V1NodeSelectorRequirement[]): boolean {
  const keys = new Set(requirements.map((r) => r.key));
  for (const key of keys) {
    const reqs = requirements.filter((r) => r.key === key);
    const needsKey = reqs.some((r) => ['In', 'Exists', 'Gt', 'Lt'].includes(r.operator));
    if (needsKey && reqs.some((r) => r.operator === 'DoesNotExist')) return false;
    const excluded = new Set(reqs.filter((r) => r.operator === 'NotIn').flatMap((r) => r.values ?? []));
    let allowed: string[] | undefined;
    for (const r of reqs.filter((r) => r.operator === 'In')) {
      allowed = (allowed ?? r.values ?? []).filter((v) => (r.values ?? []).includes(v));
    }
    if (allowed && allowed.every((v) => excluded.has(v))) return false;
  }
  return true;
}

const unique = (terms: V1NodeSelectorTerm[]): V1NodeSelectorTerm[] => dedupe(terms, (t) => JSON.stringify(t));
const uniqueRequirements = (reqs: V1NodeSelectorRequirement[]): V1NodeSelectorRequirement[] =>
  dedupe(reqs, (r) => JSON.stringify([r.key, r.operator, r.values ?? []]));

function dedupe<T>(items: T[], key: (item: T) => string): T[] {
  const seen = new Set<string>();
  return items.filter((item) => {
    const k = key(item);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
