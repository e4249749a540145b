// The size of an auto-created pool: `ipam.spidernet.io/ippool-ip-number` is either a fixed number "N" or
// "+N", the application's replicas plus N spare addresses (so a rolling update can start a new pod
// before an old one has released its address).
import type { IPNumber } from '../../ipam/selection/annotations.ts';

/**
 * Used when the application does not set the annotation. Spiderpool intends "+1" but reads a misspelt
 * configuration key and ends up with "+0"; "+1" is what its documentation promises.
 */
export const DEFAULT_IP_NUMBER: IPNumber = { flexible: true, count: 1 };

export function poolSize(ipNumber: IPNumber, replicas: number): number {
  return ipNumber.flexible ? replicas + ipNumber.count : ipNumber.count;
}

/** The annotation value recorded on the pool: what produced its current size. */
export function ipNumberText(ipNumber: IPNumber): string {
  return ipNumber.flexible ? `+${ipNumber.count}` : String(ipNumber.count);
}
