// The Events the agent records on a SpiderIPPool when it hands out or frees addresses, and how they are read
// back: the message is the record, one line per address, so `kubectl describe sp` and `kubectl spiderpool who`
// read the same text. One Event carries up to MAX_ADDRESSES_PER_EVENT addresses of one pool.
export const ADDRESS_EVENT_REASON = { allocated: 'IPAllocated', released: 'IPReleased' } as const;
/** Eight lines stay under the 1024 characters `kubectl describe` and events.k8s.io allow a note. */
export const MAX_ADDRESSES_PER_EVENT = 8;
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

/** The message of one Event: a line per address. */
export const addressEventsMessage = (events: readonly AddressEvent[]): string =>
  events.map(addressEventMessage).join('\n');

/** One line's content, or undefined for a line this format did not write. */
export function parseAddressEvent(line: string | undefined): AddressEvent | undefined {
  const m = MESSAGE.exec(line ?? '');
  if (!m) return undefined;
  const [, ip, verb, pod, podUid, nic] = m as unknown as [string, string, string, string, string, string | undefined];
  return { kind: verb === 'allocated to' ? 'allocated' : 'released', ip, pod, podUid, ...(nic ? { nic } : {}) };
}

/** Every address an Event's message records; lines this format did not write are left out. */
export const parseAddressEvents = (message: string | undefined): AddressEvent[] =>
  (message ?? '').split('\n').flatMap((line) => parseAddressEvent(line) ?? []);
