// Registers a Node the way a kubelet would, so that the scheduler binds pods to it.
import { CoreV1Api, type KubeConfig, type V1Node } from '@kubernetes/client-node';

const CAPACITY = { cpu: '16', memory: '64Gi', pods: '250', 'ephemeral-storage': '100Gi' };

export async function registerNode(kubeConfig: KubeConfig, name: string, labels: Record<string, string> = {}): Promise<V1Node> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  let node: V1Node;
  try {
    node = await core.createNode({ body: { metadata: { name, labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', ...labels } } } });
  } catch (err) {
    if ((err as { code?: number }).code !== 409) throw err;
    node = await core.readNode({ name });
  }
  // The admission chain adds the not-ready taint to every new Node; a kubelet clears it once Ready.
  node = await core.replaceNode({ name, body: { ...node, spec: { ...node.spec, taints: [] } } });
  const now = new Date();
  return core.replaceNodeStatus({
    name,
    body: {
      ...node,
      status: {
        capacity: CAPACITY,
        allocatable: CAPACITY,
        addresses: [{ type: 'Hostname', address: name }],
        conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet stand-in is posting ready status', lastHeartbeatTime: now, lastTransitionTime: now }],
        nodeInfo: {
          architecture: 'amd64', operatingSystem: 'linux', kubeletVersion: 'v1.20.2', kubeProxyVersion: 'v1.20.2',
          bootID: '', containerRuntimeVersion: 'stand-in://0', kernelVersion: '', machineID: '', osImage: 'stand-in', systemUUID: '',
        },
      },
    },
  });
}
