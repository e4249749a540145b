// The NetworkAttachmentDefinition a SpiderMultusConfig owns: its desired form, who controls an existing one,
// and how an existing one differs from the desired form.
import { isDeepStrictEqual } from 'node:util';
import type { V1OwnerReference } from '@kubernetes/client-node';
import { GROUP, MULTUS_ANNOTATION } from '../../api/v2beta1/constants.ts';
import { KINDS } from '../../api/v2beta1/kinds.ts';
import type { NetworkAttachmentDefinition, SpiderMultusConfig } from '../../api/v2beta1/types.ts';
import { controllerReference } from '../owner-reference.ts';
import { generateNadContent, nadNameOf } from './nad-config.ts';

// kubectl's record of what the user applied to the SpiderMultusConfig; on the NAD it would make a later
// `kubectl apply` of the NAD compute its patch against the wrong object.
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

type StringMap = Record<string, string>;

/**
 * The NAD as the SpiderMultusConfig describes it: same namespace, the SpiderMultusConfig's annotations
 * (plus the resource name of SR-IOV-like networks) and labels, and a controller reference so that the
 * garbage collector removes it with its owner. Throws InvalidMultusConfigError for an unusable object.
 */
export function desiredNad(smc: SpiderMultusConfig): NetworkAttachmentDefinition {
  const content = generateNadContent(smc);
  const annotations: StringMap = Object.fromEntries(
    Object.entries(smc.metadata.annotations ?? {}).filter(([k]) => k !== LAST_APPLIED),
  );
  if (content.resourceName) annotations[MULTUS_ANNOTATION.resourceName] = content.resourceName;
  return {
    apiVersion: KINDS.NetworkAttachmentDefinition.apiVersion,
    kind: 'NetworkAttachmentDefinition',
    metadata: {
      name: nadNameOf(smc),
      namespace: smc.metadata.namespace,
      annotations,
      labels: { ...smc.metadata.labels },
      ownerReferences: [controllerReference(KINDS.SpiderMultusConfig, smc)],
    },
    spec: content.config === undefined ? {} : { config: content.config },
  };
}

/** The controller reference of a NAD when it points to a SpiderMultusConfig. */
export function controllingSmc(nad: NetworkAttachmentDefinition): V1OwnerReference | undefined {
  return nad.metadata.ownerReferences?.find(
    (r) => r.controller && r.kind === KINDS.SpiderMultusConfig.kind && r.apiVersion.startsWith(`${GROUP}/`),
  );
}

/** The fields in which an existing NAD differs from the desired one; empty when it is up to date. */
export function nadDrift(current: NetworkAttachmentDefinition, desired: NetworkAttachmentDefinition): string[] {
  const drift: string[] = [];
  if (!sameConfig(current.spec?.config, desired.spec?.config)) drift.push('spec.config');
  if (!isDeepStrictEqual(current.metadata.annotations ?? {}, desired.metadata.annotations ?? {}))
    drift.push('metadata.annotations');
  if (!isDeepStrictEqual(current.metadata.labels ?? {}, desired.metadata.labels ?? {})) drift.push('metadata.labels');
  return drift;
}

/** The existing NAD carrying the desired content; its resourceVersion stays, as the precondition of the write. */
export function withDesiredContent(
  current: NetworkAttachmentDefinition,
  desired: NetworkAttachmentDefinition,
): NetworkAttachmentDefinition {
  return {
    ...current,
    metadata: { ...current.metadata, annotations: desired.metadata.annotations, labels: desired.metadata.labels },
    spec: desired.spec,
  };
}

/** CNI configurations are compared as JSON values: key order and spacing written by someone else do not matter. */
function sameConfig(current: string | undefined, desired: string | undefined): boolean {
  if (current === undefined || desired === undefined) return current === desired;
  try {
    return isDeepStrictEqual(JSON.parse(current), JSON.parse(desired));
  } catch {
    return false;
  }
}
