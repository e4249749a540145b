// Runs one reconciler: a work queue of its keys and a fixed number of workers. A controller lives for
// one leadership term; losing the lease calls stop(), which aborts the signal handed to reconcile and
// drops every queued key.
import { apiMessage, isConflict } from '../../lib/kube.ts';
import type { Logger } from '../../lib/log.ts';
import type { RuntimeMetrics } from '../metrics.ts';
import type { BackoffPolicy } from '../../lib/watch/backoff.ts';
import type { Key, Reconciler } from './types.ts';
import { WorkQueue } from './workqueue.ts';

export interface ControllerOptions {
  reconciler: Reconciler;
  workers: number;
  log: Logger;
  metrics: RuntimeMetrics;
  backoff?: BackoffPolicy;
}

export class Controller {
  readonly queue: WorkQueue;
  private readonly abort = new AbortController();
  private workers: Promise<void>[] = [];

  constructor(private readonly options: ControllerOptions) {
    this.queue = new WorkQueue(options.backoff);
  }

  get name(): string {
    return this.options.reconciler.name;
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  start(): void {
    for (let i = 0; i < this.options.workers; i++) this.workers.push(this.work());
  }

  /** Aborts in-flight reconciles, drops queued keys and waits for the workers to return. */
  async stop(): Promise<void> {
    this.abort.abort();
    this.queue.shutdown();
    await Promise.all(this.workers);
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        await this.reconcileOne(key);
      } finally {
        this.queue.done(key);
      }
    }
  }

  private async reconcileOne(key: Key): Promise<void> {
    const { reconciler, metrics, log } = this.options;
    const controller = reconciler.name;
    const end = metrics.reconcileSeconds.startTimer({ controller });
    try {
      const result = await reconciler.reconcile(key, this.abort.signal);
      end();
      metrics.reconciles.inc({ controller, result: 'success' });
      this.queue.forget(key);
      if (result?.requeueAfterMs !== undefined) this.queue.addAfter(key, result.requeueAfterMs);
    } catch (err) {
      end();
      if (this.abort.signal.aborted) return;
      const delay = this.queue.addRateLimited(key);
      metrics.queueRetries.inc({ controller });
      if (isConflict(err)) {
        metrics.reconciles.inc({ controller, result: 'conflict' });
        log.debug('reconcile conflict, requeued', { controller, key, retryInMs: delay });
      } else {
        metrics.reconciles.inc({ controller, result: 'error' });
        metrics.reconcileErrors.inc({ controller });
        log.error('reconcile failed', {
          controller,
          key,
          retryInMs: delay,
          failures: this.queue.failureCount(key),
          err: apiMessage(err),
        });
      }
    }
  }
}
