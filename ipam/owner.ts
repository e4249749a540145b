// Who a pod belongs to (docs/pool-selection.md#top-controller) and whether a StatefulSet still wants a pod name
// (docs/allocation.md#statefulset-retention): the agent asks on ADD and DEL, the garbage collector before it frees
// anything, so both answer alike.
import type { V1OwnerReference, V1Pod, V1ReplicaSet, V1StatefulSet } from '@kubernetes/client-node';

/** The root owner of the pod: the pod itself when it has no controller. */
export interface TopController {
  kind: string;
  name: string;
  namespace: string;
  uid: string;
  apiVersion: string;
}

/** Finds a ReplicaSet by name, undefined when that name now holds another UID or nothing. */
export interface ReplicaSetReader {
  replicaSet(namespace: string, name: string, uid: string): Promise<V1ReplicaSet | undefined>;
}

export const controllerOf = (refs: V1OwnerReference[] | undefined): V1OwnerReference | undefined =>
  refs?.find((r) => r.controller);

/** A pod of a ReplicaSet that a Deployment controls belongs to the Deployment. */
export async function topController(pod: V1Pod, replicaSets: ReplicaSetReader): Promise<TopController> {
  const namespace = pod.metadata?.namespace ?? 'default';
  const owner = controllerOf(pod.metadata?.ownerReferences);
  if (!owner)
    return { kind: 'Pod', name: pod.metadata?.name ?? '', namespace, uid: pod.metadata?.uid ?? '', apiVersion: 'v1' };
  if (owner.apiVersion === 'apps/v1' && owner.kind === 'ReplicaSet') {
    const rs = await replicaSets.replicaSet(namespace, owner.name, owner.uid);
    const deployment = controllerOf(rs?.metadata?.ownerReferences);
    if (deployment?.kind === 'Deployment' && deployment.apiVersion === 'apps/v1') {
      return { kind: 'Deployment', name: deployment.name, namespace, uid: deployment.uid, apiVersion: 'apps/v1' };
    }
  }
  return { kind: owner.kind, name: owner.name, namespace, uid: owner.uid, apiVersion: owner.apiVersion };
}

/** The ordinal of a StatefulSet pod name (`<set>-<n>`), or undefined for any other name. */
export function ordinalOf(podName: string, setName: string): number | undefined {
  const match = /^(.*)-(\d+)$/.exec(podName);
  return match && match[1] === setName ? Number(match[2]) : undefined;
}

/** A StatefulSet wants a pod name while it exists and the ordinal is within [start, start + replicas). */
export function statefulSetWants(set: V1StatefulSet | undefined, podName: string): boolean {
  const setName = set?.metadata?.name;
  if (!setName || set.metadata?.deletionTimestamp) return false;
  const ordinal = ordinalOf(podName, setName);
  const start = set.spec?.ordinals?.start ?? 0;
  return ordinal !== undefined && ordinal >= start && ordinal < start + (set.spec?.replicas ?? 1);
}
