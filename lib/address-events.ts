// The Events the agent records on a SpiderIPPool when it hands out or frees an address, and how they are read
// back: the message is the record, so `kubectl describe sp` and `kubectl spiderpool who` read the same text.
export const ADDRESS_EVENT_REASON = { allocated: 'IPAllocated', released: 'IPReleased' } as const;
export type AddressEventKind = keyof typeof ADDRESS_EVENT_REASON;

export interface AddressEvent {
  kind: AddressEventKind;
  ip: string;
  /** "namespace/name" of the pod. */
  pod: string;
  podUid: string;
  nic?: string;
}

export function addressEventMessage(e: AddressEvent): string {
  const nic = e.nic ? ` nic ${e.nic}` : '';
  return e.kind === 'allocated'
    ? `IP ${e.ip} allocated to pod ${e.pod} uid ${e.podUid}${nic}`
    : `IP ${e.ip} released from pod ${e.pod} uid ${e.podUid}${nic}`;
}

const MESSAGE = /^IP (\S+) (allocated to|released from) pod (\S+) uid (\S+)(?: nic (\S+))?$/;

/** The event's content, or undefined for a message this format did not write. */
export function parseAddressEvent(message: string | undefined): AddressEvent | undefined {
  const m = MESSAGE.exec(message ?? '');
  if (!m) return undefined;
  const [, ip, verb, pod, podUid, nic] = m as unknown as [string, string, string, string, string, string | undefined];
  return { kind: verb === 'allocated to' ? 'allocated' : 'released', ip, pod, podUid, ...(nic ? { nic } : {}) };
}
