// The one way a pool's status is written: read, compute, write with the resourceVersion that was read.
// A 409 means someone else wrote first; the next attempt reads again and recomputes from what is there.
import type { SpiderIPPool } from '../api/v2beta1/types.ts';
import { isConflict, isNotFound } from '../lib/kube.ts';

export interface PoolStatusClient {
  /** A fresh read of the pool (not from a cache). */
  read(name: string): Promise<SpiderIPPool>;
  /** PUT of the status subresource; must fail with 409 when the resourceVersion is stale. */
  writeStatus(pool: SpiderIPPool): Promise<SpiderIPPool>;
}

export interface RetryPolicy {
  /** How long conflicting writes are retried before the last 409 is thrown. */
  budgetMs: number;
  /** The pause after the first conflict; it doubles with each one, up to maxPauseMs, jittered by ±50%. */
  firstPauseMs: number;
  maxPauseMs: number;
}

/** What one attempt computed from the pool: `next` is undefined when nothing needs writing. */
export interface Computed<T> {
  next?: SpiderIPPool;
  result: T;
}

export interface UpdateOptions {
  policy: RetryPolicy;
  /** The pool as last written by this caller, tried before any read; a 409 on it costs one retry. */
  cached?: SpiderIPPool;
  onConflict?: () => void;
}

/** `pool` is the status as written, or as read when nothing was written. A pool that is gone is `gone`. */
export type Updated<T> = { gone: false; pool: SpiderIPPool; result: T } | { gone: true };

/**
 * `compute` runs once per attempt, with the attempt's number, on the pool as it is then. Any error other
 * than a 409 or a 404 is thrown at once, as is the last 409 when the budget is spent.
 */
export async function updatePoolStatus<T>(
  client: PoolStatusClient,
  name: string,
  compute: (pool: SpiderIPPool, attempt: number) => Computed<T>,
  options: UpdateOptions,
): Promise<Updated<T>> {
  const { policy } = options;
  const deadline = Date.now() + policy.budgetMs;
  let cached = options.cached;
  for (let attempt = 0; ; attempt++) {
    try {
      const pool = cached ?? (await client.read(name));
      const { next, result } = compute(pool, attempt);
      return { gone: false, pool: next ? await client.writeStatus(next) : pool, result };
    } catch (err) {
      if (isNotFound(err)) return { gone: true };
      if (!isConflict(err)) throw err;
      options.onConflict?.();
      if (Date.now() > deadline) throw err;
    }
    cached = undefined;
    const pause = Math.min(policy.maxPauseMs, policy.firstPauseMs * 2 ** attempt);
    await new Promise((r) => setTimeout(r, pause * (0.5 + Math.random())));
  }
}
