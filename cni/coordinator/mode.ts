// Which role the interface being added plays (underlay or overlay), whether this is the pod's first
// coordinator call, and the policy routing table its routes go to. Pure: the caller reads the pod.
import { invalidConfig } from '../skel/errors.ts';
import type { Mode } from './config.ts';

export const POD_VETH = 'veth0';
/** Underlay: marked reply traffic; overlay: the copy of eth0's default route. */
export const RESERVED_TABLE = 100;
const FIRST_NIC_TABLE = 101;

export interface PodView {
  /** podDefaultCniNic, normally eth0. */
  first: string;
  /** CNI_IFNAME. */
  cur: string;
  /** The pod already has veth0: an earlier interface was set up in underlay mode. */
  vethExists: boolean;
  /** Pod links that are UP and broadcast-capable, `cur` included. */
  upLinks: number;
}

export interface Resolved {
  mode: 'underlay' | 'overlay';
  firstInvoke: boolean;
  table: number;
}

export function resolveMode(configured: Exclude<Mode, 'disable'>, pod: PodView): Resolved {
  const isFirst = pod.cur === pod.first;
  let mode: Resolved['mode'];
  if (configured === 'auto') mode = isFirst || pod.vethExists ? 'underlay' : 'overlay';
  else mode = configured;

  if (mode === 'underlay') {
    if (!isFirst && !pod.vethExists) {
      throw invalidConfig(
        `coordinator in underlay mode on ${pod.cur}: the pod has no ${POD_VETH}, so the coordinator must also run (in underlay mode) on its first interface ${pod.first}`,
      );
    }
    // net1 gets 101 because eth0 and veth0 are counted: 98 + 3.
    return { mode, firstInvoke: isFirst, table: isFirst ? FIRST_NIC_TABLE : 98 + pod.upLinks };
  }
  if (isFirst)
    throw invalidConfig(
      `coordinator in overlay mode cannot run on the first interface ${pod.first}: it belongs to the overlay CNI`,
    );
  if (pod.vethExists)
    throw invalidConfig(
      `coordinator in overlay mode on ${pod.cur}: the pod already has ${POD_VETH}, created by an underlay coordinator call`,
    );
  // eth0 plus the first underlay interface.
  const firstInvoke = pod.upLinks === 2;
  return { mode, firstInvoke, table: firstInvoke ? FIRST_NIC_TABLE : 99 + pod.upLinks };
}
