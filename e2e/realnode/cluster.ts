// A control plane of its own with one real node, started and stopped in the order the parts need:
// the node's network first (the apiserver listens on its host end), the node last; stopped the other way.
import { startControlPlane, type ControlPlane } from '../cluster/control-plane.ts';
import { kubectlFor, type Kubectl } from '../cluster/kubectl.ts';
import {
  createNodeNetwork,
  nodeBinaries,
  startRealNode,
  type NodeNetwork,
  type NodeNetworkOptions,
  type RealNode,
  type RealNodeOptions,
} from './node.ts';

export interface RealCluster {
  cp: ControlPlane;
  network: NodeNetwork;
  node: RealNode;
  kubectl: Kubectl;
  stop(): Promise<void>;
}

export type RealClusterOptions = Partial<NodeNetworkOptions> & RealNodeOptions;

export async function startRealCluster(options: RealClusterOptions = {}): Promise<RealCluster> {
  // Built before anything starts: on a cold cache this takes many minutes.
  await nodeBinaries();
  const network = await createNodeNetwork({ ...options, name: options.name ?? 'realnode' });
  let cp: ControlPlane | undefined;
  let node: RealNode | undefined;
  const stop = async () => {
    try {
      await node?.stop();
    } finally {
      try {
        await cp?.stop();
      } finally {
        await network.remove();
      }
    }
  };
  try {
    cp = await startControlPlane({ address: network.hostAddress, nodeLifecycle: true, log: options.log });
    node = await startRealNode(cp, network, options);
  } catch (err) {
    await stop();
    throw err;
  }
  return { cp, network, node, kubectl: kubectlFor(cp.binDir, cp.kubeconfig), stop };
}
