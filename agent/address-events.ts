// The allocation history (lib/address-events.ts): Events on the SpiderIPPool naming each address handed out or
// freed. It is best-effort and never on the ADD/DEL path: addresses wait in a bounded queue that a background
// request drains, sending those of one pool and kind that queued meanwhile together in one Event (a burst of
// allocations costs an eighth of the requests); an Event that cannot be created is logged and dropped, and when
// the queue is full (the apiserver slower than allocation) new addresses are dropped and counted rather than
// holding memory or requests.
import type { JsonClient } from '../lib/json-client.ts';
import { KINDS } from '../api/v2beta1/kinds.ts';
import {
  ADDRESS_EVENT_REASON,
  MAX_ADDRESSES_PER_EVENT,
  addressEventsMessage,
  type AddressEvent,
} from '../lib/address-events.ts';
import { postEvent } from '../lib/events.ts';
import { apiMessage } from '../lib/kube.ts';
import type { Logger } from '../lib/log.ts';

const COMPONENT = 'spiderpool-agent';

export interface AddressEventsOptions {
  node: string;
  /** The UID of a pool as cached, so that `kubectl describe sp` finds its events. */
  poolUid: (pool: string) => string | undefined;
  capacity?: number;
  concurrency?: number;
}

interface Queued extends AddressEvent {
  pool: string;
}

export class AddressEvents {
  private readonly queue: Queued[] = [];
  private running = 0;
  private dropped = 0;
  private idle: (() => void)[] = [];

  constructor(
    private readonly client: JsonClient,
    private readonly log: Logger,
    private readonly options: AddressEventsOptions,
  ) {}

  /** Queues the event and returns at once. */
  record(pool: string, event: AddressEvent): void {
    if (this.queue.length >= (this.options.capacity ?? 1000)) {
      // Logged at the first drop and every thousandth after, not once per event.
      if (this.dropped++ % 1000 === 0)
        this.log.warn('address event queue full, events dropped', { dropped: this.dropped, pool });
      return;
    }
    this.queue.push({ ...event, pool });
    while (this.running < (this.options.concurrency ?? 1) && this.queue.length > 0) void this.drain();
  }

  /** Resolves once every queued event was sent or given up on. */
  settled(): Promise<void> {
    if (this.running === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private async drain(): Promise<void> {
    this.running++;
    try {
      for (let batch = this.take(); batch.length > 0; batch = this.take()) await this.send(batch);
    } finally {
      this.running--;
      if (this.running === 0) for (const resolve of this.idle.splice(0)) resolve();
    }
  }

  /**
   * The oldest queued address and those of the same pool and kind queued after it, up to one Event's worth and
   * never past one of the other kind in that pool: an address freed and handed out again keeps its order.
   */
  private take(): Queued[] {
    const first = this.queue[0];
    if (!first) return [];
    const batch: Queued[] = [];
    const rest: Queued[] = [];
    let open = true;
    for (const q of this.queue) {
      if (q.pool === first.pool && q.kind !== first.kind) open = false;
      if (open && batch.length < MAX_ADDRESSES_PER_EVENT && q.pool === first.pool && q.kind === first.kind)
        batch.push(q);
      else rest.push(q);
    }
    this.queue.splice(0, this.queue.length, ...rest);
    return batch;
  }

  private async send(batch: Queued[]): Promise<void> {
    const { pool, kind } = batch[0] as Queued;
    try {
      await postEvent(
        this.client,
        {
          apiVersion: KINDS.SpiderIPPool.apiVersion,
          kind: KINDS.SpiderIPPool.kind,
          namespace: '',
          name: pool,
          uid: this.options.poolUid(pool) ?? '',
        },
        {
          type: 'Normal',
          reason: ADDRESS_EVENT_REASON[kind],
          message: addressEventsMessage(batch),
          component: COMPONENT,
          host: this.options.node,
        },
      );
    } catch (err) {
      const ips = batch.map((q) => q.ip).join(', ');
      this.log.warn('cannot record address event', { pool, ip: ips, error: apiMessage(err) });
    }
  }
}
