// Whether one pool record may be freed (docs/garbage-collection.md#validity-rules). Pure: the caller supplies what it
// observed, once from its caches to pick suspects and again from fresh reads before anything is freed.
import type { KubernetesObject, V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import type { SpiderEndpoint } from '../../api/v2beta1/types.ts';
import { VMI_KIND, vmRetains } from '../../ipam/kubevirt.ts';
import { controllerOf, statefulSetWants } from '../../ipam/owner.ts';

/** One entry of SpiderIPPool.status.allocatedIPs, with the pool it belongs to. */
export interface PoolRecord {
  pool: string;
  ip: string;
  /** "namespace/name" of the pod. */
  pod: string;
  podUid: string;
  nic?: string;
}

/** What exists under the record's pod name; each field is undefined when that object does not exist. */
export interface Observed {
  pod?: V1Pod;
  endpoint?: SpiderEndpoint;
  /** The StatefulSet named by `statefulSetOf(pod, endpoint)`. */
  statefulSet?: V1StatefulSet;
  /** The VirtualMachineInstance and VirtualMachine named by `vmiOf(endpoint)`. */
  vmi?: KubernetesObject;
  vm?: KubernetesObject;
}

export interface DecideOptions {
  now: number;
  /** Added to a terminating or completed pod's grace period before its addresses count as unused. */
  graceMarginMs: number;
  enableStatefulSet: boolean;
  enableKubevirtStaticIP?: boolean;
}

export type KeepReason =
  'PodAlive' | 'PodTerminating' | 'PodCompleting' | 'StatefulSetRetained' | 'VirtualMachineRetained';
export type ReleaseReason =
  | 'InvalidRecord'
  | 'PodDeleted'
  | 'PodUIDMismatch'
  | 'PodTerminatedPastGrace'
  | 'PodCompleted'
  | 'StatefulSetScaledDown'
  | 'StatefulSetDeleted'
  | 'VirtualMachineDeleted';

export type Decision =
  /** `recheckAt` (ms since the epoch): the decision may change then without any event. */
  | { action: 'keep'; reason: KeepReason; recheckAt?: number }
  /** `deleteEndpoint`: the SpiderEndpoint observed under the pod name goes too. */
  | { action: 'release'; reason: ReleaseReason; deleteEndpoint: boolean };

export function splitPodKey(key: string): { namespace: string; name: string } | undefined {
  const slash = key.indexOf('/');
  if (slash <= 0 || slash === key.length - 1) return undefined;
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** Cached objects are plain JSON (strings), fresh reads carry Date objects. */
const timeOf = (value: Date | string | undefined): number | undefined =>
  value === undefined ? undefined : new Date(value).getTime();

/** The StatefulSet whose identity the pod name is: the pod's controller, or else what its endpoint records. */
export function statefulSetOf(pod: V1Pod | undefined, endpoint: SpiderEndpoint | undefined): string | undefined {
  if (pod) {
    const owner = controllerOf(pod.metadata?.ownerReferences);
    return owner?.kind === 'StatefulSet' && owner.apiVersion === 'apps/v1' ? owner.name : undefined;
  }
  return endpoint?.status?.ownerControllerType === 'StatefulSet' ? endpoint.status.ownerControllerName : undefined;
}

/**
 * The VirtualMachineInstance whose name the endpoint keeps a VM's addresses under. Only the endpoint says so: the
 * records name the VMI, not any of the pods that ran it.
 */
export const vmiOf = (endpoint: SpiderEndpoint | undefined): string | undefined =>
  endpoint?.status?.ownerControllerType === VMI_KIND ? endpoint.status.ownerControllerName : undefined;

/** Whether the VM whose addresses the endpoint keeps still wants them (false when it is no VM's endpoint). */
function vmWants(seen: Observed, options: DecideOptions): boolean {
  const name = options.enableKubevirtStaticIP ? vmiOf(seen.endpoint) : undefined;
  if (name === undefined) return false;
  const named = (o: KubernetesObject | undefined) => (o?.metadata?.name === name ? o : undefined);
  return vmRetains(named(seen.vmi), named(seen.vm));
}

/**
 * When a pod that exists stops needing its addresses: undefined while it runs. Spiderpool adds the grace
 * period to deletionTimestamp although the apiserver already set that to the request time plus the grace
 * period; that waits twice the grace period, which errs on the side of keeping, so it is kept.
 */
export function endOfLife(pod: V1Pod, graceMarginMs: number): number | undefined {
  const deletion = timeOf(pod.metadata?.deletionTimestamp);
  if (deletion !== undefined) return deletion + (pod.metadata?.deletionGracePeriodSeconds ?? 0) * 1000 + graceMarginMs;
  const phase = pod.status?.phase;
  if (phase !== 'Succeeded' && phase !== 'Failed') return undefined;
  // A finished pod without a recorded finish time has nothing left running: its grace starts from 0.
  const finished = Math.max(
    0,
    ...(pod.status?.containerStatuses ?? []).map((c) => timeOf(c.state?.terminated?.finishedAt) ?? 0),
  );
  return finished + (pod.spec?.terminationGracePeriodSeconds ?? 30) * 1000 + graceMarginMs;
}

/** Whether the endpoint lists this address of this pool, under any pod UID. */
function endpointLists(endpoint: SpiderEndpoint | undefined, record: PoolRecord): boolean {
  return (endpoint?.status?.current.ips ?? []).some(
    (e) =>
      (e.ipv4Pool === record.pool && e.ipv4?.split('/')[0] === record.ip) ||
      (e.ipv6Pool === record.pool && e.ipv6?.split('/')[0] === record.ip),
  );
}

export function decide(record: PoolRecord, seen: Observed, options: DecideOptions): Decision {
  const podName = splitPodKey(record.pod)?.name;
  if (!podName || !record.podUid) return { action: 'release', reason: 'InvalidRecord', deleteEndpoint: false };
  const { pod, endpoint } = seen;
  const setName = options.enableStatefulSet ? statefulSetOf(pod, endpoint) : undefined;
  const set = setName !== undefined && seen.statefulSet?.metadata?.name === setName ? seen.statefulSet : undefined;
  const vmKept = vmWants(seen, options);
  const retained = (setName !== undefined && statefulSetWants(set, podName)) || vmKept;
  const endpointIsRecords = endpoint?.status?.current.uid === record.podUid;

  if (pod?.metadata?.uid === record.podUid) {
    const end = endOfLife(pod, options.graceMarginMs);
    if (end === undefined) return { action: 'keep', reason: 'PodAlive' };
    const terminating = pod.metadata?.deletionTimestamp !== undefined;
    if (options.now < end)
      return { action: 'keep', reason: terminating ? 'PodTerminating' : 'PodCompleting', recheckAt: end };
    // The StatefulSet recreates the pod under the same name and the agent moves the addresses to it.
    if (retained) return { action: 'keep', reason: 'StatefulSetRetained' };
    return {
      action: 'release',
      reason: terminating ? 'PodTerminatedPastGrace' : 'PodCompleted',
      deleteEndpoint: endpointIsRecords,
    };
  }

  // The record's pod is gone for good: a UID never comes back. A StatefulSet pod's replacement takes over
  // what its endpoint lists (the agent rebinds on ADD), so only that is kept; anything else is a leftover.
  if (retained && endpointLists(endpoint, record))
    return { action: 'keep', reason: vmKept ? 'VirtualMachineRetained' : 'StatefulSetRetained' };
  if (pod) return { action: 'release', reason: 'PodUIDMismatch', deleteEndpoint: !retained && endpointIsRecords };
  if (retained) return { action: 'release', reason: 'PodDeleted', deleteEndpoint: false };
  // A VM that is gone, or a VMI deleted without a VM to start it again: its addresses and endpoint go.
  if (options.enableKubevirtStaticIP && vmiOf(endpoint) !== undefined)
    return { action: 'release', reason: 'VirtualMachineDeleted', deleteEndpoint: true };
  if (setName === undefined) return { action: 'release', reason: 'PodDeleted', deleteEndpoint: endpoint !== undefined };
  // No pod of this name lives and the set does not want one: its endpoint goes whichever pod it names.
  return {
    action: 'release',
    reason: set && !set.metadata?.deletionTimestamp ? 'StatefulSetScaledDown' : 'StatefulSetDeleted',
    deleteEndpoint: endpoint !== undefined,
  };
}

export type EndpointDecision =
  | { action: 'keep'; reason: 'PodAlive' | 'StatefulSetRetained' | 'VirtualMachineRetained' | 'RecordsRemain' }
  | { action: 'delete' };

/**
 * A SpiderEndpoint that no pool record names with its UID: left behind when its records were freed but
 * the endpoint could not be removed (its finalizer would hold it forever).
 */
export function decideEndpoint(
  endpoint: SpiderEndpoint,
  seen: Observed,
  referenced: boolean,
  options: DecideOptions,
): EndpointDecision {
  if (referenced) return { action: 'keep', reason: 'RecordsRemain' };
  const uid = endpoint.status?.current.uid;
  if (uid !== undefined && seen.pod?.metadata?.uid === uid) return { action: 'keep', reason: 'PodAlive' };
  const setName = options.enableStatefulSet ? statefulSetOf(seen.pod, endpoint) : undefined;
  const set = setName !== undefined && seen.statefulSet?.metadata?.name === setName ? seen.statefulSet : undefined;
  if (setName !== undefined && statefulSetWants(set, endpoint.metadata.name))
    return { action: 'keep', reason: 'StatefulSetRetained' };
  if (vmWants({ ...seen, endpoint }, options)) return { action: 'keep', reason: 'VirtualMachineRetained' };
  return { action: 'delete' };
}
