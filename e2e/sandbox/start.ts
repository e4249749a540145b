// Brings up the cluster one quick start assumes, as the sandbox and the quick-start tests use it: the
// control plane, the product's controllers with the document's Helm choices, the installation's objects,
// the document's objects that come before its workloads, and the simulated nodes with its main network.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControlPlane, type ControlPlane } from '../cluster/control-plane.ts';
import { installCrds, repoRoot } from '../cluster/install.ts';
import { type Kubectl, kubectlFor, kubectlOk } from '../cluster/kubectl.ts';
import { startControllers, type Controllers } from '../harness/controllers.ts';
import { startNodeSide, type NodeSide } from '../harness/nodes.ts';
import { eventually } from '../harness/wait.ts';
import { calicoNetwork, calicoRoutes } from '../kubelet/calico.ts';
import { loadKubeConfig } from '../../lib/kube.ts';
import { defaultCoordinator, kubeadmConfig, type Quickstart } from './quickstarts.ts';

export interface QuickstartCluster {
  quickstart: Quickstart;
  cp: ControlPlane;
  kubectl: Kubectl;
  controllers: Controllers;
  nodes: NodeSide;
  stop(): Promise<void>;
}

export const fixturePath = (file: string) => join(repoRoot, 'e2e', 'fixtures', file);

/** The NADs the document's SpiderMultusConfigs generate, so that the first pod finds its networks. */
async function waitForNads(kubectl: Kubectl, q: Quickstart): Promise<void> {
  const wanted = q.main.kind === 'nad' ? [q.main.network] : [];
  await eventually(`the NetworkAttachmentDefinitions ${wanted.join(', ')}`, 60_000, async () => {
    const out = await kubectlOk(kubectl, [
      'get',
      'network-attachment-definitions',
      '-A',
      '-o',
      'jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}{"\\n"}{end}',
    ]);
    const have = new Set(out.split('\n'));
    return wanted.every((n) => have.has(n)) ? true : undefined;
  });
}

export async function startQuickstart(q: Quickstart, log: (m: string) => void): Promise<QuickstartCluster> {
  const stops: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch((err: unknown) => log(`stopping failed: ${String(err)}`));
  };
  try {
    log('starting the control plane (the first run builds it, about 10 minutes)');
    const cp = await startControlPlane({ log });
    stops.push(() => cp.stop());
    const kubectl = kubectlFor(cp.binDir, cp.kubeconfig);
    await installCrds(kubectl);
    log('CRDs installed');
    const kubeConfig = loadKubeConfig(cp.kubeconfig);
    const controllers = await startControllers({ kubeConfig, kubeconfigPath: cp.kubeconfig, env: q.env });
    stops.push(() => controllers.stop());
    log(
      `admission webhooks on 127.0.0.1:${controllers.webhooks.port}; ${controllers.operators.length} operator replicas ` +
        `(metrics on ${controllers.operators.map((o) => o.port).join(', ')}); logs in ${controllers.dir}`,
    );
    await kubectlOk(kubectl, ['apply', '-f', '-'], { stdin: kubeadmConfig(q) + '---' + defaultCoordinator(q) });
    for (const f of q.fixtures) await kubectlOk(kubectl, ['apply', '-f', fixturePath(f)]);
    await waitForNads(kubectl, q);
    log(`${q.name}: the document's objects applied (${q.fixtures.join(', ')})`);
    const hostLocalDir = mkdtempSync(join(tmpdir(), 'spiderpool-calico-'));
    stops.push(async () => rmSync(hostLocalDir, { recursive: true, force: true }));
    const main = q.main;
    const nodes = await startNodeSide({
      kubeConfig,
      kubeconfigPath: cp.kubeconfig,
      nodes: q.nodes,
      log: (m) => log(`kubelet: ${m}`),
      fabric: q.fabric,
      agentEnv: q.env,
      clusterNetwork:
        main.kind === 'nad'
          ? main.network
          : calicoNetwork('podCidr' in main ? { podCidr: main.podCidr, dataDir: hostLocalDir } : { type: main.ipam }),
      podNetworkHooks: main.kind === 'calico' ? (fabric) => calicoRoutes(fabric, q.nodes) : undefined,
    });
    stops.push(() => nodes.stop());
    log(
      `nodes ${q.nodes.map((n) => `${n} (${nodes.fabric.node(n)?.address})`).join(', ')} ready, each with a spiderpool agent; ` +
        (main.kind === 'nad'
          ? `Multus's default network is ${main.network}`
          : `eth0 is the Calico stand-in (${'podCidr' in main ? `ptp with host-local from ${main.podCidr}` : `bridge with the ${main.ipam} IPAM`})`),
    );
    return { quickstart: q, cp, kubectl, controllers, nodes, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
