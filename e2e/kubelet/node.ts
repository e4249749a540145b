// Registers a Node the way a kubelet would, so that the scheduler binds pods to it, and renews its
// Ready condition the way a kubelet's status loop does.
import {
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1Node,
  type V1NodeCondition,
} from '@kubernetes/client-node';

const CAPACITY = { cpu: '16', memory: '64Gi', pods: '250', 'ephemeral-storage': '100Gi' };

export interface RegisterNodeOptions {
  /** Published as the node's InternalIP, which pods on it report as hostIP. */
  internalIP?: string;
}

function readyCondition(now: Date): V1NodeCondition {
  return {
    type: 'Ready',
    status: 'True',
    reason: 'KubeletReady',
    message: 'kubelet stand-in is posting ready status',
    lastHeartbeatTime: now,
    lastTransitionTime: now,
  };
}

export async function registerNode(
  kubeConfig: KubeConfig,
  name: string,
  labels: Record<string, string> = {},
  options: RegisterNodeOptions = {},
): Promise<V1Node> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  try {
    await core.createNode({
      body: { metadata: { name, labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', ...labels } } },
    });
  } catch (err) {
    if ((err as { code?: number }).code !== 409) throw err;
  }
  // The admission chain adds the not-ready taint to every new Node; a kubelet clears it once Ready.
  // Patches, not replaces: the TTL controller annotates a new Node at the same moment.
  await core.patchNode(
    { name, body: [{ op: 'replace', path: '/spec/taints', value: [] }] },
    setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
  );
  const addresses = [
    ...(options.internalIP ? [{ type: 'InternalIP', address: options.internalIP }] : []),
    { type: 'Hostname', address: name },
  ];
  return core.patchNodeStatus(
    {
      name,
      body: {
        status: {
          capacity: CAPACITY,
          allocatable: CAPACITY,
          addresses,
          conditions: [readyCondition(new Date())],
          nodeInfo: {
            architecture: 'amd64',
            operatingSystem: 'linux',
            kubeletVersion: 'v1.20.2',
            kubeProxyVersion: 'v1.20.2',
            bootID: '',
            containerRuntimeVersion: 'stand-in://0',
            kernelVersion: '',
            machineID: '',
            osImage: 'stand-in',
            systemUUID: '',
          },
        },
      },
    },
    setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
  );
}

/**
 * Refreshes the Ready condition's heartbeat, keeping its transition time. Conditions merge by type in
 * a strategic merge patch, so other conditions are left as they are.
 */
export async function heartbeatNode(kubeConfig: KubeConfig, name: string): Promise<void> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const node = await core.readNode({ name });
  const current = node.status?.conditions?.find((c) => c.type === 'Ready');
  const now = new Date();
  const condition = current?.status === 'True' ? { ...current, lastHeartbeatTime: now } : readyCondition(now);
  await core.patchNodeStatus(
    { name, body: { status: { conditions: [condition] } } },
    setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
  );
}
