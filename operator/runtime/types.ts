// The contract between the operator runtime and its reconcilers. A reconciler names the kinds whose
// changes concern it and maps each changed object to the keys it must reconcile; the runtime keeps a
// cache of every watched kind, turns changes into de-duplicated keys on a work queue, retries failures
// with back-off, and re-enqueues every key on a periodic full resync. Reconcilers work by level: they
// never learn whether an object was added, changed or deleted, only which key to bring up to date.
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import type { Logger } from '../../lib/log.ts';
import type { Kind } from '../../lib/watch/kind.ts';
import type { Key, ReadCache } from '../../lib/watch/store.ts';
import type { EventRecorder } from './events.ts';

// Kinds and keys are those of the shared informers (lib/watch), re-exported for the reconcilers.
export type { Kind } from '../../lib/watch/kind.ts';
export { type Key, type ReadCache, keyOf } from '../../lib/watch/store.ts';

export function splitKey(key: Key): { namespace?: string; name: string } {
  const slash = key.indexOf('/');
  return slash < 0 ? { name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

export interface Caches {
  of<T extends KubernetesObject>(kind: Kind): ReadCache<T>;
}

export interface Watch {
  readonly kind: Kind;
  /** Keys of the reconciler's primary objects that depend on this object (its own key, its owner's, ...). */
  keys(obj: KubernetesObject): Key[];
}

export interface Result {
  /** Reconcile this key again after this long even if nothing changes (time-based work). */
  requeueAfterMs?: number;
}

export interface Reconciler {
  /** Used in logs and in the metrics' `controller` label. */
  readonly name: string;
  readonly watches: readonly Watch[];
  /** Keys reconciled on every resync even without an object behind them (a periodic scan, a singleton). */
  initialKeys?(): Key[];
  /**
   * Brings one key to its desired state. Throwing requeues the key with per-key exponential back-off; a
   * 409 Conflict is requeued without an error log. Runs only on the leader, only after every watched
   * kind's cache has completed its first list, and never concurrently for the same key.
   */
  reconcile(key: Key, signal: AbortSignal): Promise<Result | void>;
}

/** What every reconciler factory receives from the runtime. */
export interface ReconcilerContext {
  caches: Caches;
  kubeConfig: KubeConfig;
  log: Logger;
  /** The operator's metrics registry; reconcilers register their own gauges and counters here. */
  registry: Registry;
  /** Warning events on the objects a reconciler cannot bring to their desired state; one recorder per operator. */
  events: EventRecorder;
}

export type ReconcilerFactory = (ctx: ReconcilerContext) => Reconciler;

/** Options of `startOperator` (operator/start.ts), which runs one operator replica in this process. */
export interface OperatorOptions {
  kubeConfig: KubeConfig;
  reconcilers: readonly ReconcilerFactory[];
  /** This replica's name in the leader Lease; defaults to the host name plus the process id. */
  identity?: string;
  /** Where the leader Lease lives. */
  leaseNamespace?: string;
  leaseName?: string;
  /** Interval of the full relist and re-enqueue of every key. */
  resyncMs?: number;
  /** TCP port of /metrics, /healthz and /readyz; 0 picks a free one, undefined serves none. */
  metricsPort?: number;
  /** Where the operator registers its series; a new one when unset. */
  registry?: Registry;
  log?: Logger;
  /** Workers per reconciler (default 3). */
  workers?: number;
  /** Leader election timings (defaults 15 s / 10 s / 2 s). */
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** How often an optional kind whose CRD is missing is looked for again (default 30 s). */
  optionalRetryMs?: number;
}

export interface RunningOperator {
  registry: Registry;
  /** The bound metrics port, when one is served. */
  metricsPort?: number;
  isLeader(): boolean;
  /** Stops the workers, releases the Lease if held, closes watches and the metrics server. */
  stop(): Promise<void>;
  /** This replica's identity in the Lease. */
  identity: string;
  /** Resolves once every cache has completed its first LIST. */
  waitForSync(): Promise<void>;
  /** True once every cache has completed its first LIST. */
  hasSynced(): boolean;
  /** A full resync now: relists every kind and re-enqueues every key; resolves once the relists are applied. */
  resync(): Promise<void>;
  /** True when no reconciler has a key queued or being reconciled (keys waiting for a delay do not count). */
  idle(): boolean;
}
