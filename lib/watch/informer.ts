// A reflector for one kind: a paginated LIST, then a WATCH from the list's resourceVersion with bookmarks
// and a server-side timeout, re-watched from the last seen resourceVersion when it ends. A 410 Gone
// relists, and the relist reports objects that vanished meanwhile as removed. Any other failure is
// retried with back-off; nothing here ever ends the process. Listeners run synchronously and must only
// enqueue. Every cache of the operator, the agent and the webhook server is one of these, so a watch
// that breaks anywhere recovers the same way; a kind's field selector narrows it to this node's pods or
// to one named object.
import { Watch, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { statusCode } from '../kube.ts';
import type { Logger } from '../log.ts';
import { type BackoffPolicy, backoffDelay, sleep } from './backoff.ts';
import { type Kind, collectionPath, kindId } from './kind.ts';
import { ListClient } from './list.ts';
import { type Change, Store } from './store.ts';

const DEFAULT_WATCH_BACKOFF: BackoffPolicy = { baseMs: 250, maxMs: 5_000, jitter: 0.2 };

/** A watch `ERROR` event, carrying the code of its Status (410 when the resourceVersion is too old). */
class WatchStatusError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export interface InformerOptions {
  kind: Kind;
  kubeConfig: KubeConfig;
  log: Logger;
  backoff?: BackoffPolicy;
  /** How often an optional kind whose CRD is missing is looked for again. */
  optionalRetryMs?: number;
  /**
   * What the cache keeps of each object, when the readers need only part of it; the projection must keep
   * `metadata.name`, `namespace` and `resourceVersion`.
   */
  project?: (obj: KubernetesObject) => KubernetesObject;
}

const errorCode = (err: unknown): number | undefined =>
  statusCode(err) ?? (err as { statusCode?: number } | undefined)?.statusCode;

export class Informer<T extends KubernetesObject = KubernetesObject> {
  readonly store = new Store<T>();
  readonly id: string;
  private readonly listeners: ((change: Change<T>) => void)[] = [];
  private readonly lists: ListClient;
  private readonly watcher: Watch;
  private readonly stopping = new AbortController();
  private resourceVersion?: string;
  private synced = false;
  private syncWaiters: (() => void)[] = [];
  private relistWaiters: (() => void)[] = [];
  private relistRequested = false;
  private currentWatch?: AbortController;
  private running?: Promise<void>;

  constructor(private readonly options: InformerOptions) {
    this.id = kindId(options.kind);
    this.lists = new ListClient(options.kubeConfig);
    this.watcher = new Watch(options.kubeConfig);
  }

  onChange(listener: (change: Change<T>) => void): void {
    this.listeners.push(listener);
  }

  start(): void {
    this.running ??= this.run();
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves once the first LIST has completed (or, for a missing optional kind, was found empty). */
  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  /** Ends the current watch and lists again; resolves when that LIST has been applied (or on stop). */
  relist(): Promise<void> {
    if (this.stopping.signal.aborted) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.relistWaiters.push(resolve));
    this.relistRequested = true;
    this.currentWatch?.abort();
    return done;
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    this.currentWatch?.abort();
    await this.running;
    for (const resolve of this.relistWaiters.splice(0)) resolve();
  }

  private emit(change: Change<T> | undefined): void {
    if (!change) return;
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (err) {
        this.options.log.error('change listener failed', { kind: this.id, key: change.key, err: String(err) });
      }
    }
  }

  private markSynced(): void {
    if (!this.synced) {
      this.synced = true;
      for (const resolve of this.syncWaiters.splice(0)) resolve();
    }
  }

  private async run(): Promise<void> {
    const { log, kind } = this.options;
    const signal = this.stopping.signal;
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (this.resourceVersion === undefined || this.relistRequested) await this.list();
        const healthy = await this.watchOnce();
        failures = healthy ? 0 : failures + 1;
        if (!healthy) await sleep(backoffDelay(this.options.backoff ?? DEFAULT_WATCH_BACKOFF, failures - 1), signal);
      } catch (err) {
        if (signal.aborted) break;
        const code = errorCode(err);
        if (code === 410) {
          log.info('resourceVersion expired, relisting', { kind: this.id });
          this.resourceVersion = undefined;
          continue;
        }
        if (kind.optional && code === 404) {
          // The CRD is not installed: an empty cache is the truth until it appears.
          for (const change of this.store.replace([])) this.emit(change);
          this.resourceVersion = undefined;
          this.markSynced();
          this.settleRelists();
          await sleep(this.options.optionalRetryMs ?? 30_000, signal);
          continue;
        }
        const delay = backoffDelay(this.options.backoff ?? DEFAULT_WATCH_BACKOFF, failures++);
        log.warn('list/watch failed, retrying', {
          kind: this.id,
          code,
          err: String(err instanceof Error ? err.message : err),
          retryInMs: delay,
        });
        await sleep(delay, signal);
      }
    }
  }

  private settleRelists(): void {
    this.relistRequested = false;
    for (const resolve of this.relistWaiters.splice(0)) resolve();
  }

  private async list(): Promise<void> {
    // Only a LIST that starts after a relist request answers it.
    const waiters = this.relistWaiters.splice(0);
    this.relistRequested = false;
    let listed;
    try {
      listed = await this.lists.list<T>(this.options.kind, this.stopping.signal);
    } catch (err) {
      this.relistWaiters.unshift(...waiters);
      this.relistRequested ||= waiters.length > 0;
      throw err;
    }
    if (this.stopping.signal.aborted) return;
    const { project } = this.options;
    const items = project ? listed.items.map((o) => project(o) as T) : listed.items;
    for (const change of this.store.replace(items)) this.emit(change);
    this.resourceVersion = listed.resourceVersion;
    this.markSynced();
    for (const resolve of waiters) resolve();
  }

  /**
   * One WATCH from the current resourceVersion until it ends. Resolves true when it delivered events or
   * lasted a while, false when it closed at once with nothing (which is then backed off); throws on error.
   */
  private watchOnce(): Promise<boolean> {
    const started = Date.now();
    let events = 0;
    let lastActivity = Date.now();
    const timeoutSeconds = 300 + Math.floor(Math.random() * 300);
    let statusError: WatchStatusError | undefined;
    let abortedHere = false;
    return new Promise<boolean>((resolve, reject) => {
      let controller: AbortController | undefined;
      const abort = () => {
        abortedHere = true;
        controller?.abort();
      };
      // The watch has no client-side timeout: a half-open connection would hang until the kernel notices.
      const watchdog = setInterval(() => {
        if (Date.now() - lastActivity > (timeoutSeconds + 60) * 1000) {
          this.options.log.warn('watch silent past its timeout, reconnecting', { kind: this.id });
          abort();
        }
      }, 10_000);
      watchdog.unref();
      const finish = (err: unknown) => {
        clearInterval(watchdog);
        if (this.currentWatch === facade) this.currentWatch = undefined;
        if (statusError) return reject(statusError);
        if (err && !abortedHere && !this.stopping.signal.aborted) return reject(err);
        resolve(events > 0 || Date.now() - started > 1000 || abortedHere);
      };
      const facade = { abort } as AbortController;
      this.currentWatch = facade;
      const { fieldSelector } = this.options.kind;
      const query = {
        resourceVersion: this.resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds,
        ...(fieldSelector ? { fieldSelector } : {}),
      };
      this.watcher
        .watch(
          collectionPath(this.options.kind),
          query,
          (type: string, obj: KubernetesObject) => {
            lastActivity = Date.now();
            events++;
            this.onEvent(type, obj, (status) => {
              statusError = status;
              abort();
            });
          },
          finish,
        )
        .then((c) => {
          controller = c;
          if (abortedHere || this.stopping.signal.aborted || this.relistRequested) abort();
        }, finish);
    });
  }

  private onEvent(type: string, obj: KubernetesObject, fail: (err: WatchStatusError) => void): void {
    const rv = obj?.metadata?.resourceVersion;
    switch (type) {
      case 'ADDED':
      case 'MODIFIED':
        this.emit(this.store.put((this.options.project ? this.options.project(obj) : obj) as T));
        break;
      case 'DELETED':
        this.emit(this.store.remove(obj));
        break;
      case 'BOOKMARK':
        break;
      case 'ERROR': {
        const status = obj as { code?: number; message?: string };
        fail(new WatchStatusError(status.code ?? 500, `watch of ${this.id}: ${status.message ?? 'error event'}`));
        return;
      }
      default:
        return;
    }
    if (rv) this.resourceVersion = rv;
  }
}
