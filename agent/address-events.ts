// The allocation history (lib/address-events.ts): one Event on the SpiderIPPool per address handed out or freed.
// It is best-effort and never on the ADD/DEL path: events wait in a bounded queue that a few background
// requests drain, an event that cannot be created is logged and dropped, and when the queue is full (the
// apiserver slower than allocation) new events are dropped and counted rather than holding memory or requests.
import type { CoreV1Api } from '@kubernetes/client-node';
import { KINDS } from '../api/v2beta1/kinds.ts';
import { ADDRESS_EVENT_REASON, addressEventMessage, type AddressEvent } from '../lib/address-events.ts';
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
    private readonly core: CoreV1Api,
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
      for (let next = this.queue.shift(); next; next = this.queue.shift()) await this.send(next);
    } finally {
      this.running--;
      if (this.running === 0) for (const resolve of this.idle.splice(0)) resolve();
    }
  }

  private async send({ pool, ...event }: Queued): Promise<void> {
    try {
      await postEvent(
        this.core,
        {
          apiVersion: KINDS.SpiderIPPool.apiVersion,
          kind: KINDS.SpiderIPPool.kind,
          namespace: '',
          name: pool,
          uid: this.options.poolUid(pool) ?? '',
        },
        {
          type: 'Normal',
          reason: ADDRESS_EVENT_REASON[event.kind],
          message: addressEventMessage(event),
          component: COMPONENT,
          host: this.options.node,
        },
      );
    } catch (err) {
      this.log.warn('cannot record address event', { pool, ip: event.ip, error: apiMessage(err) });
    }
  }
}
