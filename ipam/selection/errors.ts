// The two ways pool selection fails. The reasons are the agent API's, so the HTTP layer can pass them on
// unchanged and the IPAM plugin maps them to CNI error codes.
import type { V1Pod } from '@kubernetes/client-node';
import type { AgentErrorReason } from '../../lib/agent-api.ts';
import type { Family } from '../../lib/ip/index.ts';

export type SelectionErrorReason = Extract<AgentErrorReason, 'WrongInput' | 'NoAvailablePool'>;

export class SelectionError extends Error {
  override readonly name = 'SelectionError';
  readonly reason: SelectionErrorReason;

  constructor(reason: SelectionErrorReason, message: string) {
    super(message);
    this.reason = reason;
  }
}

/** The pod, its namespace or the CNI call says something malformed or contradictory. */
export const wrongInput = (message: string): SelectionError => new SelectionError('WrongInput', message);

/** The input is well formed but no pool can serve it. */
export const noAvailablePool = (message: string): SelectionError => new SelectionError('NoAvailablePool', message);

/** `namespace/name` of a pod, for messages. */
export const podRef = (pod: V1Pod): string => `${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;

/**
 * The common start of NoAvailablePool messages, e.g. `no IPPool available for eth0 IPv4 of pod default/web-0 (rule:
 * ippool annotation)`.
 */
export function noPoolFor(nic: string, family: Family | undefined, pod: V1Pod, source: string): string {
  return `no IPPool available for ${nic}${family === undefined ? '' : ` IPv${family}`} of pod ${podRef(pod)} (rule: ${source})`;
}
