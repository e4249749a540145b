// Pod and Service CIDRs from kubeadm's ClusterConfiguration, which kubeadm keeps in
// kube-system/kubeadm-config (data.ClusterConfiguration, YAML: networking.podSubnet, networking.serviceSubnet,
// each a comma-separated list for dual stack).
import type { V1ConfigMap } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { nothing, parseCIDRList, type Found } from './found.ts';

export const KUBEADM_CONFIG = 'kubeadm-config';
const WHERE = `kube-system/${KUBEADM_CONFIG}`;

export interface ClusterCIDRs {
  pod: Found;
  service: Found;
}

export function kubeadmCIDRs(cm: V1ConfigMap | undefined): ClusterCIDRs {
  const both = (problem: string): ClusterCIDRs => ({ pod: nothing(problem), service: nothing(problem) });
  if (!cm) return both(`${WHERE} not found`);
  const text = cm.data?.ClusterConfiguration;
  if (!text) return both(`${WHERE} has no data.ClusterConfiguration`);
  let config: unknown;
  try {
    config = parse(text);
  } catch (err) {
    return both(`${WHERE} data.ClusterConfiguration is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const networking = (config as { networking?: unknown } | null)?.networking;
  const field = (name: string): Found => {
    const value = (networking as Record<string, unknown> | null | undefined)?.[name];
    if (value === undefined || value === null || value === '') return nothing(`${WHERE} has no networking.${name}`);
    if (typeof value !== 'string') return nothing(`${WHERE} networking.${name} is not a string`);
    return parseCIDRList(value, `${WHERE} networking.${name}`);
  };
  return { pod: field('podSubnet'), service: field('serviceSubnet') };
}
