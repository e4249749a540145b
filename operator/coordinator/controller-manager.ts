// Pod and Service CIDRs from the flags of a static kube-controller-manager pod (kube-system, label
// component=kube-controller-manager), for clusters without kubeadm-config or with an incomplete one.
import type { V1Pod } from '@kubernetes/client-node';
import { nothing, parseCIDRList, type Found } from './found.ts';
import type { ClusterCIDRs } from './kubeadm-config.ts';

const CONTROLLER_MANAGER_LABEL = { component: 'kube-controller-manager' } as const;

export const isControllerManager = (pod: V1Pod): boolean =>
  pod.metadata?.labels?.component === CONTROLLER_MANAGER_LABEL.component;

/**
 * The value of `--flag=value` or `--flag value` in the first container's command, then its args. An
 * element may hold a whole shell command line (`sh -c "kube-controller-manager --cluster-cidr=..."`).
 */
export function flagValue(pod: V1Pod, flag: string): string | undefined {
  const container = pod.spec?.containers?.[0];
  const words = [...(container?.command ?? []), ...(container?.args ?? [])]
    .flatMap((e) => e.split(/\s+/))
    .filter(Boolean);
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (word.startsWith(`${flag}=`)) return word.slice(flag.length + 1);
    if (word === flag && i + 1 < words.length) return words[i + 1];
  }
  return undefined;
}

export function controllerManagerCIDRs(pods: readonly V1Pod[]): ClusterCIDRs {
  const candidates = pods
    .filter((p) => isControllerManager(p) && !p.metadata?.deletionTimestamp)
    .sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  const fromFlag = (flag: string): Found => {
    if (candidates.length === 0)
      return nothing('no kube-controller-manager pod in kube-system (label component=kube-controller-manager)');
    for (const pod of candidates) {
      const value = flagValue(pod, flag);
      if (value !== undefined) return parseCIDRList(value, `pod kube-system/${pod.metadata?.name} ${flag}`);
    }
    return nothing(
      `no kube-controller-manager pod with ${flag} (${candidates.map((p) => `kube-system/${p.metadata?.name}`).join(', ')})`,
    );
  };
  return { pod: fromFlag('--cluster-cidr'), service: fromFlag('--service-cluster-ip-range') };
}
