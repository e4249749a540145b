// A work queue with client-go semantics: a key waiting in the queue is held once however often it is
// added, a key being processed is never handed to a second worker (an add during processing queues it
// again when the worker is done), and failures are retried with per-key exponential back-off.
import { type BackoffPolicy, backoffDelay } from '../../lib/watch/backoff.ts';
import type { Key } from './types.ts';

const DEFAULT_QUEUE_BACKOFF: BackoffPolicy = { baseMs: 200, maxMs: 60_000, jitter: 0.1 };

export class WorkQueue {
  private queue: Key[] = [];
  private readonly dirty = new Set<Key>();
  private readonly processing = new Set<Key>();
  private readonly failures = new Map<Key, number>();
  private readonly timers = new Map<Key, { at: number; timer: NodeJS.Timeout }>();
  private waiters: ((key: Key | undefined) => void)[] = [];
  private shuttingDown = false;

  constructor(private readonly backoff: BackoffPolicy = DEFAULT_QUEUE_BACKOFF) {}

  /** Keys waiting for a worker (not counting those being processed or waiting for their back-off). */
  get depth(): number {
    return this.queue.length;
  }

  /** Keys being processed by a worker. */
  get active(): number {
    return this.processing.size;
  }

  add(key: Key): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    const waiter = this.waiters.shift();
    if (waiter) {
      this.dirty.delete(key);
      this.processing.add(key);
      waiter(key);
    } else {
      this.queue.push(key);
    }
  }

  /** Adds the key after `ms`; of several pending delays for one key the earliest wins. */
  addAfter(key: Key, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) return this.add(key);
    const at = Date.now() + ms;
    const pending = this.timers.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    timer.unref();
    this.timers.set(key, { at, timer });
  }

  /** Adds the key after its back-off delay, which doubles with each failure until `forget`. Returns the delay. */
  addRateLimited(key: Key): number {
    const failures = this.failures.get(key) ?? 0;
    this.failures.set(key, failures + 1);
    const delay = backoffDelay(this.backoff, failures);
    this.addAfter(key, delay);
    return delay;
  }

  /** Clears the key's failure count: its next failure starts again at the base delay. */
  forget(key: Key): void {
    this.failures.delete(key);
  }

  failureCount(key: Key): number {
    return this.failures.get(key) ?? 0;
  }

  /** The next key, marked as being processed; undefined once the queue shuts down. */
  get(): Promise<Key | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) {
      this.dirty.delete(key);
      this.processing.add(key);
      return Promise.resolve(key);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Ends the processing of a key; if it was added meanwhile it goes back into the queue. */
  done(key: Key): void {
    this.processing.delete(key);
    if (this.dirty.delete(key)) this.add(key);
  }

  /** Drops every queued and delayed key; waiting workers get undefined. */
  shutdown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.queue = [];
    this.dirty.clear();
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
  }

  /** True when no key is queued, being processed or waiting for a delay. */
  idle(): boolean {
    return this.queue.length === 0 && this.processing.size === 0 && this.timers.size === 0;
  }
}
