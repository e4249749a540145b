// Third-party applications (docs/workloads.md#third-party-controllers): the top controllers of pods that are not
// Kubernetes workloads, such as OpenKruise's CloneSet. Their pools are sized only by a fixed
// `ipam.spidernet.io/ippool-ip-number`, read from their pods: a third-party kind's replica count and pod template
// live wherever its API puts them.
import type { KubernetesObject, V1Pod } from '@kubernetes/client-node';
import { ANNOTATION, AUTO_POOL_LABEL } from '../../api/v2beta1/constants.ts';
import type { SpiderIPPool } from '../../api/v2beta1/types.ts';
import { controllerOf, isThirdParty } from '../../ipam/owner.ts';
import { parsePodIPAMAnnotations } from '../../ipam/selection/annotations.ts';
import type { Key } from '../runtime/types.ts';
import type { AppRef, Application } from './application.ts';

/** A third-party application: its kind always comes with its group and version. */
export type ThirdPartyRef = Required<AppRef>;

/** `<group>/<version>/<Kind>/<namespace>/<name>`; none of the parts can contain a slash. */
export const thirdPartyKey = (ref: ThirdPartyRef): Key =>
  `${ref.group}/${ref.version}/${ref.kind}/${ref.namespace}/${ref.name}`;

export function parseThirdPartyKey(key: Key): ThirdPartyRef | undefined {
  const [group, version, kind, namespace, name, ...rest] = key.split('/');
  if (!group || !version || !kind || !namespace || !name || rest.length > 0) return undefined;
  return { group, version, kind, namespace, name };
}

const splitApiVersion = (apiVersion: string): { group: string; version: string } | undefined => {
  const slash = apiVersion.indexOf('/');
  return slash > 0 ? { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) } : undefined;
};

const asksForSubnet = (pod: V1Pod): boolean => {
  const annotations = pod.metadata?.annotations ?? {};
  return !pod.spec?.hostNetwork && (ANNOTATION.subnet in annotations || ANNOTATION.subnets in annotations);
};

/** The third-party application of a pod that asks for an auto-created pool. */
export function thirdPartyOfPod(pod: V1Pod): ThirdPartyRef | undefined {
  const owner = controllerOf(pod.metadata?.ownerReferences);
  const namespace = pod.metadata?.namespace;
  if (!owner || !namespace || !asksForSubnet(pod)) return undefined;
  const top = { kind: owner.kind, name: owner.name, namespace, uid: owner.uid, apiVersion: owner.apiVersion };
  const gv = splitApiVersion(owner.apiVersion);
  return gv && isThirdParty(top) ? { ...gv, kind: owner.kind, namespace, name: owner.name } : undefined;
}

/** The third-party application an auto-created pool was made for, from its labels. */
export function thirdPartyOfPool(pool: SpiderIPPool): ThirdPartyRef | undefined {
  const labels = pool.metadata.labels ?? {};
  const gv = labels[AUTO_POOL_LABEL.ownerApplicationGV] ?? '';
  const kind = labels[AUTO_POOL_LABEL.ownerApplicationKind];
  const namespace = labels[AUTO_POOL_LABEL.ownerApplicationNamespace];
  const name = labels[AUTO_POOL_LABEL.ownerApplicationName];
  // The group has dots and no underscore, the version neither: `apps.kruise.io_v1alpha1`.
  const [group, version, ...rest] = gv.split('_');
  if (!group || !version || rest.length > 0 || !kind || !namespace || !name) return undefined;
  const top = { kind, name, namespace, uid: '', apiVersion: `${group}/${version}` };
  return isThirdParty(top) ? { group, version, kind, namespace, name } : undefined;
}

/** The application's pods, as the cache shows them. */
export const podsOf = (pods: V1Pod[], app: KubernetesObject): V1Pod[] =>
  pods.filter((p) => controllerOf(p.metadata?.ownerReferences)?.uid === app.metadata?.uid);

/**
 * The application as the auto-pool writer takes it, with the IPAM annotations of one of its pods standing in for a
 * pod template. Undefined when that pod's `ippool-ip-number` is not a fixed number, which is all a third-party
 * application can be sized by.
 */
export function thirdPartyApplication(ref: ThirdPartyRef, obj: KubernetesObject, pod: V1Pod): Application | undefined {
  const ipNumber = parsePodIPAMAnnotations(pod.metadata?.annotations).ippoolIPNumber;
  if (!ipNumber || ipNumber.flexible) return undefined;
  return {
    ...ref,
    uid: obj.metadata?.uid ?? '',
    apiVersion: `${ref.group}/${ref.version}`,
    replicas: ipNumber.count,
    template: { metadata: { annotations: pod.metadata?.annotations ?? {} } },
    terminating: !!obj.metadata?.deletionTimestamp,
  };
}
