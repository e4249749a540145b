// The one way a pool's status is written: read, compute, write with the resourceVersion that was read.
// A 409 means someone else wrote first; the next attempt reads again and recomputes from what is there.
import type { SpiderIPPool } from '../api/v2beta1/types.ts';
import { RequestTimeout, isConflict, isNotFound, outcomeUnknown } from '../lib/kube.ts';

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
  /**
   * After a 409: a copy of the pool known to be newer than the one refused (from a watch), tried instead of a read.
   * With many writers on one pool most writes are refused once, and the watch has usually delivered the winner's
   * write by then; a read would carry the whole pool once more. A refused watch copy is followed by a read.
   */
  newer?: (refused: SpiderIPPool) => SpiderIPPool | undefined;
  onConflict?: () => void;
  /**
   * Each read and write fails after this long, so a hung apiserver call cannot keep the writer busy. Such a
   * failure, a lost connection or a 5xx leaves the write's outcome unknown: the pool is read again and the
   * batch recomputed (an allocation that was applied finds its own record), up to `unknownRetries` times.
   */
  callTimeoutMs?: number;
  unknownRetries?: number;
  onUnknown?: (err: unknown) => void;
}

function withDeadline<T>(call: Promise<T>, ms: number | undefined, what: string): Promise<T> {
  if (ms === undefined) return call;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RequestTimeout(`${what} got no answer within ${ms} ms`)), ms);
  });
  return Promise.race([call, expired]).finally(() => clearTimeout(timer));
}

/** `pool` is the status as written, or as read when nothing was written. A pool that is gone is `gone`. */
export type Updated<T> = { gone: false; pool: SpiderIPPool; result: T } | { gone: true };

/**
 * `compute` runs once per attempt, with the attempt's number, on the pool as it is then. Any error other
 * than a 409, a 404 or an unknown outcome (see `callTimeoutMs`) is thrown at once, as is the last 409 when the
 * budget is spent.
 */
export async function updatePoolStatus<T>(
  client: PoolStatusClient,
  name: string,
  compute: (pool: SpiderIPPool, attempt: number) => Computed<T>,
  options: UpdateOptions,
): Promise<Updated<T>> {
  const { policy } = options;
  const deadline = Date.now() + policy.budgetMs;
  const timeout = options.callTimeoutMs;
  let cached = options.cached;
  /** The last copy `newer` gave. */
  let offered: SpiderIPPool | undefined;
  let unknown = 0;
  for (let attempt = 0; ; attempt++) {
    let computing = false;
    let pool: SpiderIPPool | undefined;
    try {
      pool = cached ?? (await withDeadline(client.read(name), timeout, `GET of IPPool ${name}`));
      computing = true;
      const { next, result } = compute(pool, attempt);
      computing = false;
      // Nothing to write proves nothing about a cached pool (another writer may have changed it): a result
      // computed from the cache is confirmed on a fresh read.
      if (!next && pool === cached) {
        cached = undefined;
        continue;
      }
      const written = next && (await withDeadline(client.writeStatus(next), timeout, `status write of IPPool ${name}`));
      return { gone: false, pool: written ?? pool, result };
    } catch (err) {
      if (computing) throw err;
      if (isNotFound(err)) return { gone: true };
      cached = undefined;
      if (isConflict(err)) {
        options.onConflict?.();
        if (Date.now() > deadline) throw err;
        // A watch copy that was refused too is behind a busy pool (its agent short of CPU, say): read instead, so
        // that a writer never keeps losing on copies that are always a little late.
        if (pool && pool !== offered) cached = offered = options.newer?.(pool);
      } else if (outcomeUnknown(err) && unknown < (options.unknownRetries ?? 0)) {
        unknown++;
        options.onUnknown?.(err);
      } else {
        throw err;
      }
    }
    const pause = Math.min(policy.maxPauseMs, policy.firstPauseMs * 2 ** attempt);
    await new Promise((r) => setTimeout(r, pause * (0.5 + Math.random())));
  }
}

/**
 * Whether `a` is a later version of the object than `b`. A resourceVersion is opaque to clients, but on an
 * etcd3-backed apiserver it is etcd's revision, a number that only grows; anything else is not known to be newer.
 */
export function isNewer(a: SpiderIPPool, b: SpiderIPPool): boolean {
  const [x, y] = [a.metadata.resourceVersion, b.metadata.resourceVersion];
  if (!x || !y || !/^\d{1,15}$/.test(x) || !/^\d{1,15}$/.test(y)) return false;
  return Number(x) > Number(y);
}
