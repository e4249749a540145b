// What a kubelet writes back to the apiserver for a pod: its status once the sandbox runs, and Events
// that explain what went wrong.
import { createHash } from 'node:crypto';
import {
  ApiException,
  PatchStrategy,
  setHeaderOptions,
  type CoreV1Api,
  type V1ContainerStatus,
  type V1Pod,
} from '@kubernetes/client-node';
import { MULTUS_ANNOTATION } from '../../api/v2beta1/constants.ts';
import type { NetworkStatus } from './multus.ts';

export interface RunningPod {
  hostIP: string;
  /** Pod IPs without prefix length, primary first. */
  podIPs: string[];
  /** Multus's network-status entries; absent for host-network pods, which Multus never sees. */
  networks?: NetworkStatus[];
  sandboxId: string;
  startedAt: Date;
}

function containerStatus(
  sandboxId: string,
  name: string,
  image: string | undefined,
  state: V1ContainerStatus['state'],
  ready: boolean,
): V1ContainerStatus {
  const id = createHash('sha256').update(`${sandboxId}/${name}`).digest('hex');
  return {
    name,
    image: image ?? '',
    imageID: image ?? '',
    containerID: `stand-in://${id}`,
    ready,
    started: ready,
    restartCount: 0,
    state,
  };
}

function networkStatusValue(networks: NetworkStatus[]): string {
  // Multus writes the list indented; consumers parse it, but keeping its shape keeps diffs readable.
  return JSON.stringify(networks, null, '    ');
}

/** True when the pod already shows what runningStatusPatch would write. */
export function statusIsCurrent(pod: V1Pod, running: RunningPod): boolean {
  const annotation = pod.metadata?.annotations?.[MULTUS_ANNOTATION.networkStatus];
  return (
    pod.status?.phase === 'Running' &&
    pod.status.hostIP === running.hostIP &&
    (pod.status.podIP ?? '') === (running.podIPs[0] ?? '') &&
    (running.networks === undefined || annotation === networkStatusValue(running.networks))
  );
}

/**
 * A strategic merge patch for the /status subresource (which also accepts metadata.annotations, as Multus relies on).
 */
export function runningStatusPatch(pod: V1Pod, running: RunningPod): object {
  const now = new Date();
  const condition = (type: string) => ({ type, status: 'True', lastProbeTime: null, lastTransitionTime: now });
  const started = { running: { startedAt: running.startedAt } };
  const finished = {
    terminated: { exitCode: 0, reason: 'Completed', startedAt: running.startedAt, finishedAt: running.startedAt },
  };
  return {
    ...(running.networks
      ? { metadata: { annotations: { [MULTUS_ANNOTATION.networkStatus]: networkStatusValue(running.networks) } } }
      : {}),
    status: {
      phase: 'Running',
      hostIP: running.hostIP,
      ...(running.podIPs[0] ? { podIP: running.podIPs[0], podIPs: running.podIPs.map((ip) => ({ ip })) } : {}),
      startTime: running.startedAt,
      conditions: ['Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map(condition),
      initContainerStatuses: (pod.spec?.initContainers ?? []).map((c) =>
        containerStatus(running.sandboxId, c.name, c.image, finished, true),
      ),
      containerStatuses: (pod.spec?.containers ?? []).map((c) =>
        containerStatus(running.sandboxId, c.name, c.image, started, true),
      ),
    },
  };
}

export async function patchPodStatus(core: CoreV1Api, pod: V1Pod, patch: object): Promise<void> {
  await core.patchNamespacedPodStatus(
    { name: pod.metadata?.name ?? '', namespace: pod.metadata?.namespace ?? '', body: patch },
    setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
  );
}

const MAX_MESSAGE = 1024;

/**
 * Records an Event about a pod. Repeats of the same reason and message bump the count of one Event
 * instead of adding new ones, as kubelet's event correlator does.
 */
export async function recordPodEvent(
  core: CoreV1Api,
  pod: V1Pod,
  node: string,
  type: 'Normal' | 'Warning',
  reason: string,
  message: string,
): Promise<void> {
  const namespace = pod.metadata?.namespace ?? 'default';
  const podName = pod.metadata?.name ?? '';
  const uid = pod.metadata?.uid ?? '';
  const text = message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 3)}...` : message;
  const name = `${podName.slice(0, 200)}.${createHash('sha256').update(`${uid}\n${reason}\n${text}`).digest('hex').slice(0, 16)}`;
  const now = new Date();
  try {
    await core.createNamespacedEvent({
      namespace,
      body: {
        metadata: { name, namespace },
        involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace, name: podName, uid },
        type,
        reason,
        message: text,
        count: 1,
        firstTimestamp: now,
        lastTimestamp: now,
        source: { component: 'kubelet', host: node },
        reportingComponent: 'kubelet',
        reportingInstance: node,
      },
    });
  } catch (err) {
    if (!(err instanceof ApiException && err.code === 409)) throw err;
    const existing = await core.readNamespacedEvent({ namespace, name });
    await core.replaceNamespacedEvent({
      namespace,
      name,
      body: { ...existing, count: (existing.count ?? 1) + 1, lastTimestamp: now },
    });
  }
}
