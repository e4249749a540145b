// Kubernetes name syntax the rules check (apimachinery validation: IsQualifiedName, IsValidLabelValue,
// IsDNS1123Subdomain).
import type { LabelSelector } from '../../api/v2beta1/types.ts';
import { selectorProblem } from '../../ipam/selection/label-selector.ts';
import { show } from './decision.ts';

const NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export const isDns1123Subdomain = (s: string): boolean => s.length <= 253 && DNS1123_SUBDOMAIN.test(s);

export const isLabelValue = (s: string): boolean => s === '' || (s.length <= 63 && NAME_PART.test(s));

function isQualifiedName(s: string): boolean {
  const slash = s.indexOf('/');
  const name = slash < 0 ? s : s.slice(slash + 1);
  if (slash >= 0 && !isDns1123Subdomain(s.slice(0, slash))) return false;
  return name.length <= 63 && NAME_PART.test(name);
}

/** Problems of a label selector: unknown operators, values that do not fit the operator, malformed keys and values. */
export function checkSelector(field: string, selector: LabelSelector, problems: string[]): void {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (!isQualifiedName(key)) problems.push(`${field}.matchLabels key ${show(key)} is not a valid label key`);
    else if (!isLabelValue(value))
      problems.push(`${field}.matchLabels[${show(key)}] ${show(value)} is not a valid label value`);
  }
  (selector.matchExpressions ?? []).forEach((req, i) => {
    if (!isQualifiedName(req.key))
      problems.push(`${field}.matchExpressions[${i}].key ${show(req.key)} is not a valid label key`);
    const bad = (req.values ?? []).find((v) => !isLabelValue(v));
    if (bad !== undefined)
      problems.push(`${field}.matchExpressions[${i}].values ${show(bad)} is not a valid label value`);
  });
  const problem = selectorProblem(selector);
  if (problem) problems.push(`${field}: ${problem}`);
}
