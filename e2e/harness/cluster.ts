// The control plane shared by every test file of one run: started on first use, stopped by the root hook.
import { KubeConfig } from '@kubernetes/client-node';
import { startControlPlane, type ControlPlane } from '../cluster/control-plane.ts';
import { installCrds } from '../cluster/install.ts';
import { type Kubectl, kubectlFor } from '../cluster/kubectl.ts';

export interface TestCluster {
  cp: ControlPlane;
  kubectl: Kubectl;
  kubeConfig: KubeConfig;
}

let shared: Promise<TestCluster> | undefined;

async function start(): Promise<TestCluster> {
  const cp = await startControlPlane();
  const kubectl = kubectlFor(cp.binDir, cp.kubeconfig);
  await installCrds(kubectl);
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(cp.kubeconfig);
  return { cp, kubectl, kubeConfig };
}

/** The shared cluster, with the CRDs installed. Call it from a `before` hook with a generous timeout. */
export function testCluster(): Promise<TestCluster> {
  shared ??= start();
  return shared;
}

export async function stopTestCluster(): Promise<void> {
  if (!shared) return;
  const cluster = await shared.catch(() => undefined);
  shared = undefined;
  await cluster?.cp.stop();
}
