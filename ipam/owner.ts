// Who a pod belongs to (docs/workloads.md#top-controller) and whether a StatefulSet still wants a pod name
// (docs/allocation.md#statefulset-retention): the agent asks on ADD and DEL, the garbage collector before it frees
// anything, so both answer alike.
import type { V1Job, V1OwnerReference, V1Pod, V1ReplicaSet, V1StatefulSet } from '@kubernetes/client-node';

/** The root owner of the pod: the pod itself when it has no controller. */
export interface TopController {
  kind: string;
  name: string;
  namespace: string;
  uid: string;
  apiVersion: string;
}

/** Finds the intermediate controllers by name; undefined when that name now holds another UID or nothing. */
export interface OwnerReader {
  replicaSet(namespace: string, name: string, uid: string): Promise<V1ReplicaSet | undefined>;
  job(namespace: string, name: string, uid: string): Promise<V1Job | undefined>;
}

export const controllerOf = (refs: V1OwnerReference[] | undefined): V1OwnerReference | undefined =>
  refs?.find((r) => r.controller);

/**
 * The CronJob kind under either API version: clusters before 1.21 serve only batch/v1beta1, and a Job's owner
 * reference names the version its CronJob controller wrote.
 */
export const isCronJobRef = (ref: Pick<V1OwnerReference, 'apiVersion' | 'kind'> | undefined): boolean =>
  ref?.kind === 'CronJob' && (ref.apiVersion === 'batch/v1' || ref.apiVersion === 'batch/v1beta1');

const asTop = (ref: V1OwnerReference, namespace: string, apiVersion = ref.apiVersion): TopController => ({
  kind: ref.kind,
  name: ref.name,
  namespace,
  uid: ref.uid,
  apiVersion,
});

/**
 * A pod of a ReplicaSet that a Deployment controls belongs to the Deployment, a pod of a Job that a CronJob
 * controls to the CronJob (as batch/v1, whichever version its owner reference names, so that its auto-created
 * pools match on every cluster). Any other controller, including a third-party one (OpenKruise, KubeVirt's
 * VirtualMachineInstance), is the top controller as its owner reference names it, without being read.
 */
export async function topController(pod: V1Pod, owners: OwnerReader): Promise<TopController> {
  const namespace = pod.metadata?.namespace ?? 'default';
  const owner = controllerOf(pod.metadata?.ownerReferences);
  if (!owner)
    return { kind: 'Pod', name: pod.metadata?.name ?? '', namespace, uid: pod.metadata?.uid ?? '', apiVersion: 'v1' };
  if (owner.apiVersion === 'apps/v1' && owner.kind === 'ReplicaSet') {
    const rs = await owners.replicaSet(namespace, owner.name, owner.uid);
    const deployment = controllerOf(rs?.metadata?.ownerReferences);
    if (deployment?.kind === 'Deployment' && deployment.apiVersion === 'apps/v1') return asTop(deployment, namespace);
  }
  if (owner.apiVersion === 'batch/v1' && owner.kind === 'Job') {
    const job = await owners.job(namespace, owner.name, owner.uid);
    const cronJob = controllerOf(job?.metadata?.ownerReferences);
    if (cronJob && isCronJobRef(cronJob)) return asTop(cronJob, namespace, 'batch/v1');
  }
  return asTop(owner, namespace);
}

/**
 * The Kubernetes controllers the subnet controller makes auto-created pools for (docs/auto-pools.md#applications);
 * any other top controller but a bare pod is a third-party one (OpenKruise, KubeVirt, …).
 */
const NATIVE_CONTROLLERS = new Set([
  'apps/v1 Deployment',
  'apps/v1 ReplicaSet',
  'apps/v1 StatefulSet',
  'apps/v1 DaemonSet',
  'batch/v1 Job',
  'batch/v1 CronJob',
]);

export const isThirdParty = (top: TopController): boolean =>
  top.kind !== 'Pod' && !NATIVE_CONTROLLERS.has(`${top.apiVersion} ${top.kind}`);

/** A Kubernetes StatefulSet, whose pod names are identities; OpenKruise's Advanced StatefulSet is not one here. */
export const isStatefulSet = (top: TopController): boolean =>
  top.kind === 'StatefulSet' && top.apiVersion === 'apps/v1';

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
