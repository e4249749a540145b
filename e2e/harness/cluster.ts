// The control plane shared by every test file of one run: started on first use, stopped by the root hook.
import type { KubeConfig } from '@kubernetes/client-node';
import { loadKubeConfig } from '../../lib/kube.ts';
import { startControlPlane, type ControlPlane } from '../cluster/control-plane.ts';
import { installCrds } from '../cluster/install.ts';
import { type Kubectl, kubectlFor } from '../cluster/kubectl.ts';

export interface TestCluster {
  cp: ControlPlane;
  kubectl: Kubectl;
  kubeConfig: KubeConfig;
}

// Kept on globalThis: mocha loads the root hooks and the test files through different loaders, and
// both must see the one cluster.
const state = globalThis as { spiderpoolTestCluster?: Promise<TestCluster> };

/** A cluster of the caller's own, with the CRDs installed, for a test that must not share the nodes others left. */
export async function startOwnCluster(): Promise<TestCluster> {
  const cp = await startControlPlane();
  const kubectl = kubectlFor(cp.binDir, cp.kubeconfig);
  await installCrds(kubectl);
  const kubeConfig = loadKubeConfig(cp.kubeconfig);
  return { cp, kubectl, kubeConfig };
}

/** The shared cluster, with the CRDs installed. Call it from a `before` hook with a generous timeout. */
export function testCluster(): Promise<TestCluster> {
  state.spiderpoolTestCluster ??= startOwnCluster();
  return state.spiderpoolTestCluster;
}

export async function stopTestCluster(): Promise<void> {
  if (!state.spiderpoolTestCluster) return;
  const cluster = await state.spiderpoolTestCluster.catch(() => undefined);
  state.spiderpoolTestCluster = undefined;
  await cluster?.cp.stop();
}
