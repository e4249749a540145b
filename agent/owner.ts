// The top controller of a pod (spec §4.3) and whether a StatefulSet still wants a pod's ordinal (§4.9).
import type { V1OwnerReference, V1Pod } from '@kubernetes/client-node';
import type { Cluster } from './cluster.ts';

export interface TopController { kind: string; name: string; namespace: string; uid: string; apiVersion: string }

const controllerOf = (refs: V1OwnerReference[] | undefined) => refs?.find((r) => r.controller);

export async function topController(cluster: Cluster, pod: V1Pod): Promise<TopController> {
  const namespace = pod.metadata?.namespace ?? 'default';
  const owner = controllerOf(pod.metadata?.ownerReferences);
  if (!owner) return { kind: 'Pod', name: pod.metadata?.name ?? '', namespace, uid: pod.metadata?.uid ?? '', apiVersion: 'v1' };
  const direct = { kind: owner.kind, name: owner.name, namespace, uid: owner.uid, apiVersion: owner.apiVersion };
  if (owner.apiVersion === 'apps/v1' && owner.kind === 'ReplicaSet') {
    const rs = await cluster.replicaSet(namespace, owner.name, owner.uid);
    const deployment = controllerOf(rs?.metadata?.ownerReferences);
    if (deployment?.kind === 'Deployment' && deployment.apiVersion === 'apps/v1') {
      return { kind: 'Deployment', name: deployment.name, namespace, uid: deployment.uid, apiVersion: 'apps/v1' };
    }
  }
  return direct;
}

/** The ordinal of a StatefulSet pod name (`<set>-<n>`), or undefined for any other name. */
export function ordinalOf(podName: string, setName: string): number | undefined {
  const match = /^(.*)-(\d+)$/.exec(podName);
  return match && match[1] === setName ? Number(match[2]) : undefined;
}

/** A StatefulSet pod keeps its addresses while the set exists and its ordinal is within the replicas. */
export async function statefulSetWantsPod(cluster: Cluster, namespace: string, setName: string, podName: string): Promise<boolean> {
  const set = await cluster.statefulSet(namespace, setName);
  const ordinal = ordinalOf(podName, setName);
  if (!set || ordinal === undefined || set.metadata?.deletionTimestamp) return false;
  const start = (set.spec as { ordinals?: { start?: number } } | undefined)?.ordinals?.start ?? 0;
  return ordinal >= start && ordinal < start + (set.spec?.replicas ?? 1);
}
