// Kubernetes label selectors (metav1.LabelSelector) as the pool affinities use them: matchLabels and
// matchExpressions are ANDed, and an empty selector matches everything.
import type { LabelSelector, LabelSelectorRequirement } from '../../api/v2beta1/types.ts';

type Labels = Record<string, string> | undefined;

/**
 * Why the selector cannot be evaluated, or undefined when it is valid. Kubernetes refuses the same
 * selectors (LabelSelectorAsSelector), so such a pool can never be chosen.
 */
export function selectorProblem(selector: LabelSelector): string | undefined {
  for (const req of selector.matchExpressions ?? []) {
    const count = req.values?.length ?? 0;
    switch (req.operator) {
      case 'In':
      case 'NotIn':
        if (count === 0) return `operator ${req.operator} on key "${req.key}" needs at least one value`;
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (count > 0) return `operator ${req.operator} on key "${req.key}" takes no values`;
        break;
      default:
        return `unknown operator "${String(req.operator)}" on key "${req.key}"`;
    }
  }
  return undefined;
}

/** Whether the labels satisfy a valid selector (see selectorProblem). */
export function matchesSelector(selector: LabelSelector, labels: Labels): boolean {
  const has = (key: string): boolean => labels !== undefined && Object.hasOwn(labels, key);
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (!has(key) || labels?.[key] !== value) return false;
  }
  return (selector.matchExpressions ?? []).every((req) => requirementHolds(req, has(req.key), labels?.[req.key]));
}

function requirementHolds(req: LabelSelectorRequirement, present: boolean, value: string | undefined): boolean {
  switch (req.operator) {
    case 'In':
      return present && (req.values ?? []).includes(value as string);
    case 'NotIn':
      return !present || !(req.values ?? []).includes(value as string);
    case 'Exists':
      return present;
    case 'DoesNotExist':
      return !present;
  }
}

/** The selector in kubectl's `-l` syntax, e.g. `zone=a,disk in (ssd),!gpu`. */
export function describeSelector(selector: LabelSelector): string {
  const parts = Object.entries(selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const req of selector.matchExpressions ?? []) {
    const values = (req.values ?? []).join(',');
    switch (req.operator) {
      case 'In':
        parts.push(`${req.key} in (${values})`);
        break;
      case 'NotIn':
        parts.push(`${req.key} notin (${values})`);
        break;
      case 'Exists':
        parts.push(req.key);
        break;
      case 'DoesNotExist':
        parts.push(`!${req.key}`);
        break;
    }
  }
  return parts.length === 0 ? '(everything)' : parts.join(',');
}
