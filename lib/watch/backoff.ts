// Exponential back-off with jitter, shared by the work queue (per key) and the watches (per kind).

export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
  /** Fraction of the delay added at random, so that many keys failing together do not retry together. */
  jitter: number;
}

/** Delay before attempt `failures + 1`, after `failures` consecutive failures (0 gives the base delay). */
export function backoffDelay(policy: BackoffPolicy, failures: number, random: () => number = Math.random): number {
  const raw = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(failures, 52));
  return Math.round(raw * (1 + policy.jitter * random()));
}

/** Resolves after `ms`, or at once when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
