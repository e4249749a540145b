// Every IPAM and Multus annotation of a pod, parsed by the agent's own parsers so that admission refuses
// exactly the values allocation would fail on, plus the pod's interfaces and the networks behind them.
import type { V1Pod } from '@kubernetes/client-node';
import { ANNOTATION, MULTUS_ANNOTATION } from '../../api/v2beta1/constants.ts';
import {
  nicNetwork,
  parseMultusNetworks,
  parsePodIPAMAnnotations,
  SelectionError,
  type PodIPAMAnnotations,
} from '../../ipam/selection/index.ts';
import { invalid } from './denied.ts';

/** One interface of the pod. */
export interface PodNic {
  name: string;
  /** `namespace/name` of the NetworkAttachmentDefinition it comes from, when the webhook can know it. */
  network?: string;
}

export interface PodAnnotations {
  ipam: PodIPAMAnnotations;
  /** eth0 (Multus' default network) first, then the extra networks in annotation order. */
  nics: PodNic[];
  /** Annotations that are well formed but have no effect. */
  warnings: string[];
}

export interface NetworkContext {
  /** Bare NetworkAttachmentDefinition names of the default network resolve here. */
  installNamespace: string;
  /** Multus' cluster network (`namespace/name`), the network of eth0 when the pod names none. */
  multusClusterNetwork?: string;
}

/** Throws PodDenied (422) naming the first malformed annotation. */
export function parsePodAnnotations(pod: V1Pod, context: NetworkContext): PodAnnotations {
  try {
    const ipam = parsePodIPAMAnnotations(pod.metadata?.annotations);
    return { ipam, nics: podNics(pod, context), warnings: ineffective(ipam) };
  } catch (err) {
    if (err instanceof SelectionError) throw invalid(err.message);
    throw err;
  }
}

function podNics(pod: V1Pod, context: NetworkContext): PodNic[] {
  const first = nicNetwork({ pod, nic: 'eth0', firstNic: true, ...context });
  const extra = parseMultusNetworks(pod.metadata?.annotations, pod.metadata?.namespace ?? '');
  const nics: PodNic[] = ['network' in first ? { name: 'eth0', network: first.network } : { name: 'eth0' }];
  for (const n of extra) {
    if (nics.some((nic) => nic.name === n.interface)) {
      throw invalid(
        `annotation ${MULTUS_ANNOTATION.networks} is invalid: interface ${n.interface} is used by more than one network`,
      );
    }
    nics.push({ name: n.interface, network: `${n.namespace}/${n.name}` });
  }
  return nics;
}

// The precedence of docs/pool-selection.md#rules makes some combinations silently drop an annotation; say so rather
// than let the user wonder why it did nothing.
function ineffective(ipam: PodIPAMAnnotations): string[] {
  const warnings: string[] = [];
  const subnetKey = ipam.subnets ? ANNOTATION.subnets : ipam.subnet ? ANNOTATION.subnet : undefined;
  const ignored = (key: string, winner: string): string => `annotation ${key} is ignored: ${winner} takes precedence`;
  if (ipam.subnets && ipam.subnet) warnings.push(ignored(ANNOTATION.subnet, ANNOTATION.subnets));
  if (subnetKey) {
    if (ipam.ippools) warnings.push(ignored(ANNOTATION.ippools, subnetKey));
    if (ipam.ippool) warnings.push(ignored(ANNOTATION.ippool, subnetKey));
    return warnings;
  }
  if (ipam.ippools && ipam.ippool) warnings.push(ignored(ANNOTATION.ippool, ANNOTATION.ippools));
  const noEffect = (key: string): string =>
    `annotation ${key} has no effect without ${ANNOTATION.subnet} or ${ANNOTATION.subnets}`;
  if (ipam.ippoolIPNumber) warnings.push(noEffect(ANNOTATION.ippoolIPNumber));
  if (ipam.ippoolReclaim !== undefined) warnings.push(noEffect(ANNOTATION.ippoolReclaim));
  return warnings;
}
