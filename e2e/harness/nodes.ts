// The node side of a cluster on one machine: a simulated L2 fabric, one agent per node, and the kubelet
// stand-in running the real CNI chain, whose eth0 is macvlan with the `spiderpool` IPAM plugin (the
// `coordinator` plugin is found in the same directory). Each node sees its own agent at the default
// socket path, as on separate machines.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { IPAM_PLUGIN_TYPE } from '../../api/v2beta1/constants.ts';
import { buildPlugins } from '../../cni/build.ts';
import { DEFAULT_AGENT_SOCKET } from '../../lib/agent-api.ts';
import { createFabric, type Fabric, type FabricOptions } from '../kubelet/fabric.ts';
import { type KubeletOptions, startKubelet, type Kubelet, type PodNetworkHooks } from '../kubelet/kubelet.ts';
import { startAgents, type Agents } from './agents.ts';

const DEBIAN_CNI_DIR = '/usr/lib/cni';

const CLUSTER_NETWORK = {
  cniVersion: '0.4.0',
  name: 'cluster',
  plugins: [{ type: 'macvlan', master: 'eth0', mode: 'bridge', ipam: { type: IPAM_PLUGIN_TYPE } }],
};

export interface NodeSide {
  fabric: Fabric;
  agents: Agents;
  kubelet: Kubelet;
  stop(): Promise<void>;
}

export async function startNodeSide(options: {
  kubeConfig: KubeConfig;
  kubeconfigPath: string;
  nodes: string[];
  log?: (m: string) => void;
  /** A cluster of another shape than the default macvlan eth0 (the sandbox's quick starts). */
  fabric?: FabricOptions;
  clusterNetwork?: KubeletOptions['clusterNetwork'];
  podNetworkHooks?: (fabric: Fabric) => PodNetworkHooks;
  agentEnv?: Record<string, string>;
}): Promise<NodeSide> {
  // The IPAM plugin and the coordinator meta plugin share dist/cni.
  const plugin = (await buildPlugins()).spiderpool;
  const runDir = dirname(DEFAULT_AGENT_SOCKET);
  mkdirSync(runDir, { recursive: true });
  const fabric = await createFabric(options.fabric ?? { nics: ['eth0', 'eth1', 'ens192'] });
  let agents: Agents | undefined;
  try {
    agents = await startAgents(options.kubeconfigPath, options.nodes, options.agentEnv);
    const byNode = new Map(agents.agents.map((a) => [a.node, a.runDir]));
    const kubelet = await startKubelet({
      kubeConfig: options.kubeConfig,
      nodes: options.nodes,
      cniBinDirs: [dirname(plugin.executable), DEBIAN_CNI_DIR],
      clusterNetwork: options.clusterNetwork ?? CLUSTER_NETWORK,
      podNetworkHooks: options.podNetworkHooks?.(fabric),
      fabric,
      log: options.log,
      nodeMounts: (node) => [{ source: byNode.get(node) as string, target: runDir }],
    });
    const started = agents;
    return {
      fabric,
      agents: started,
      kubelet,
      stop: async () => {
        await kubelet.teardown();
        await started.stop();
        await fabric.teardown();
      },
    };
  } catch (err) {
    await agents?.stop();
    await fabric.teardown();
    throw err;
  }
}
