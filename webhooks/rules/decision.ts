// Admission answers of the CRD rules. A denial lists every problem found, each naming the field and the
// reason, after the object it concerns: `SpiderIPPool "pool-a": spec.ips[1] "…" is outside spec.subnet …`.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { AdmissionDecision, AdmissionRequest } from '../types.ts';

export const ALLOWED: AdmissionDecision = { allowed: true };

/** `SpiderIPPool "pool-a"` or, for namespaced kinds, `SpiderMultusConfig "ns/name"`. */
export function objectRef(kind: string, request: AdmissionRequest): string {
  const meta = (request.object ?? request.oldObject)?.metadata;
  const name = meta?.name || request.name || (meta?.generateName ? `${meta.generateName}*` : '');
  const namespace = meta?.namespace ?? request.namespace;
  return `${kind} "${namespace ? `${namespace}/` : ''}${name}"`;
}

/** Invalid (422) for what is wrong with the object; Forbidden (403) for what other objects' state prevents. */
export const INVALID = 422;
export const FORBIDDEN = 403;

export function decide(ref: string, problems: string[], code = INVALID): AdmissionDecision {
  return problems.length === 0 ? ALLOWED : { allowed: false, message: `${ref}: ${problems.join('; ')}`, code };
}

export const isTerminating = (obj: KubernetesObject | undefined): boolean => Boolean(obj?.metadata?.deletionTimestamp);

/**
 * The answer to an update of an object that is being deleted, or undefined for any other request. Such an
 * update is how finalizers are removed; it is let through without the usual rules (the object may predate
 * them), but `field` (spec, or status for SpiderEndpoint) cannot change any more.
 */
export function terminatingUpdate(
  ref: string,
  request: AdmissionRequest,
  field: 'spec' | 'status' = 'spec',
): AdmissionDecision | undefined {
  const stored = request.oldObject as Record<string, unknown> | undefined;
  if (request.operation !== 'UPDATE' || !isTerminating(stored as KubernetesObject | undefined)) return undefined;
  const unchanged =
    JSON.stringify(stored?.[field]) ===
    JSON.stringify((request.object as Record<string, unknown> | undefined)?.[field]);
  return decide(ref, unchanged ? [] : [`${field} cannot change while the object is being deleted`], FORBIDDEN);
}

/** JSON text of a value for messages: strings quoted, everything else as JSON. */
export const show = (value: unknown): string => JSON.stringify(value);
