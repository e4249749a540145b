// A work queue keyed by pod: different keys run in parallel up to a bound, one key never runs twice at
// once, and a key enqueued while it runs runs once more afterwards (so the latest state always gets
// handled, however many events arrived meanwhile).
export class KeyedQueue {
  private readonly running = new Map<string, Promise<void>>();
  private readonly dirty = new Set<string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly waiting: (() => void)[] = [];
  private active = 0;
  private closed = false;

  constructor(
    private readonly concurrency: number,
    private readonly work: (key: string) => Promise<void>,
    private readonly onError: (key: string, err: unknown) => void,
  ) {}

  enqueue(key: string): void {
    if (this.closed) return;
    if (this.running.has(key)) {
      this.dirty.add(key);
      return;
    }
    // Started on a later tick so that the key is registered as running before any work happens.
    const run = Promise.resolve()
      .then(() => this.runLimited(key))
      .finally(() => {
        this.running.delete(key);
        if (this.dirty.delete(key)) this.enqueue(key);
      });
    this.running.set(key, run);
  }

  /** Enqueues the key after a delay; a later call replaces an earlier pending one. */
  enqueueAfter(key: string, delayMs: number): void {
    if (this.closed) return;
    this.cancel(key);
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        this.enqueue(key);
      }, delayMs),
    );
  }

  cancel(key: string): void {
    const timer = this.timers.get(key);
    if (timer) clearTimeout(timer);
    this.timers.delete(key);
  }

  /** Stops accepting work, drops pending retries and waits for what is running. */
  async close(): Promise<void> {
    this.closed = true;
    for (const key of [...this.timers.keys()]) this.cancel(key);
    this.dirty.clear();
    while (this.running.size > 0) await Promise.allSettled([...this.running.values()]);
  }

  private async runLimited(key: string): Promise<void> {
    // A finishing run hands its slot straight to the next waiter, so the bound holds at every moment.
    if (this.active < this.concurrency) this.active++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      if (!this.closed) await this.work(key);
    } catch (err) {
      this.onError(key, err);
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}
