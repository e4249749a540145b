// The operator process shell: an @dot-i/k8s-operator Operator whose event source is replaced. The library's
// own watchResource exits the process on any watch error, watches without a resourceVersion and loses
// deletes across reconnects, so init() feeds the reconcilers from Informers (list+watch with
// resourceVersion, relist on 410, retried with back-off) instead, and watchResource refuses to run.
// Caches run on every replica so that a new leader starts warm; controllers (queues and workers) exist
// only while this replica holds the Lease.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import dotiOperator, { type ResourceEvent } from '@dot-i/k8s-operator';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import type { Logger } from '../../lib/log.ts';
import { Informer } from '../../lib/watch/informer.ts';
import { kindId } from '../../lib/watch/kind.ts';
import type { Change } from '../../lib/watch/store.ts';
import { createRuntimeMetrics, type RuntimeMetrics } from '../metrics.ts';
import { Controller } from './controller.ts';
import { createEventRecorder } from './events.ts';
import { LeaderElector, type LeaseTimings } from './leader.ts';
import type { Caches, Kind, ReadCache, Reconciler, ReconcilerFactory } from './types.ts';

// Under ESM the package's default import is the CommonJS exports object, whose `default` is the class.
const Operator = dotiOperator.default;

export interface OperatorConfig {
  kubeConfig: KubeConfig;
  reconcilers: readonly ReconcilerFactory[];
  identity?: string;
  leaseNamespace: string;
  leaseName: string;
  lease: LeaseTimings;
  resyncMs: number;
  workers: number;
  optionalRetryMs?: number;
  log: Logger;
  registry: Registry;
}

interface Registered {
  reconciler: Reconciler;
  /** Every kind the reconciler watches or reads: its first LIST gates the reconciler's start. */
  kinds: Set<string>;
  controller?: Controller;
}

function defaultIdentity(): string {
  return `${hostname()}_${process.pid}_${randomBytes(3).toString('hex')}`;
}

export class SpiderpoolOperator extends Operator {
  readonly identity: string;
  private readonly informers = new Map<string, Informer>();
  private readonly registered: Registered[] = [];
  private readonly metrics: RuntimeMetrics;
  private readonly elector: LeaderElector;
  private resyncTimer?: NodeJS.Timeout;
  private resyncing?: Promise<void>;
  private started = false;
  private stopped = false;

  constructor(private readonly config: OperatorConfig) {
    super(config.log);
    this.identity = config.identity ?? defaultIdentity();
    this.metrics = createRuntimeMetrics(config.registry, {
      queueDepths: () =>
        this.registered.map((r) => [r.reconciler.name, r.controller?.queue.depth ?? 0] as [string, number]),
      isLeader: () => this.isLeader(),
      cacheSizes: () => [...this.informers.values()].map((i) => [i.id, i.store.size] as [string, number]),
    });
    this.elector = new LeaderElector({
      kubeConfig: config.kubeConfig,
      namespace: config.leaseNamespace,
      name: config.leaseName,
      identity: this.identity,
      log: config.log,
      ...config.lease,
      onStartedLeading: () => this.startControllers(),
      onStoppedLeading: () => void this.stopControllers(),
    });
  }

  /** Builds the reconcilers and their caches, starts the watches, the resync timer and the election. */
  protected async init(): Promise<void> {
    const { kubeConfig, log, registry } = this.config;
    const events = createEventRecorder(kubeConfig, log);
    for (const factory of this.config.reconcilers) {
      const kinds = new Set<string>();
      const caches: Caches = {
        of: <T extends KubernetesObject>(kind: Kind) => {
          kinds.add(kindId(kind));
          return this.informer(kind).store as unknown as ReadCache<T>;
        },
      };
      const reconciler = factory({ caches, kubeConfig, log, registry, events });
      for (const watch of reconciler.watches) {
        kinds.add(kindId(watch.kind));
        this.informer(watch.kind);
      }
      if (this.registered.some((r) => r.reconciler.name === reconciler.name))
        throw new Error(`two reconcilers are named ${reconciler.name}`);
      this.registered.push({ reconciler, kinds });
    }
    this.started = true;
    for (const informer of this.informers.values()) informer.start();
    this.resyncTimer = setInterval(() => void this.resync(), this.config.resyncMs);
    this.resyncTimer.unref();
    this.elector.start();
    log.info('operator started', {
      identity: this.identity,
      reconcilers: this.registered.map((r) => r.reconciler.name),
      kinds: [...this.informers.keys()],
    });
  }

  /** The dot-i watch would end the process on the first apiserver hiccup; every watch goes through Informer. */
  protected override watchResource(
    _group: string,
    _version: string,
    plural: string,
    _onEvent: (event: ResourceEvent) => Promise<void>,
  ): Promise<void> {
    return Promise.reject(new Error(`watchResource(${plural}) is not supported: watches are served by Informer`));
  }

  isLeader(): boolean {
    return this.elector.isLeader();
  }

  hasSynced(): boolean {
    return [...this.informers.values()].every((i) => i.hasSynced());
  }

  async waitForSync(): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.waitForSync()));
  }

  /** Relists every kind, then puts every key of every reconciler on its queue (when leading). */
  resync(): Promise<void> {
    this.resyncing ??= (async () => {
      try {
        await Promise.all([...this.informers.values()].map((i) => i.relist()));
        for (const r of this.registered) if (r.controller) this.enqueueAll(r, r.controller);
      } finally {
        this.resyncing = undefined;
      }
    })();
    return this.resyncing;
  }

  /** True when no controller has a key queued or in progress (delayed retries do not count). */
  idle(): boolean {
    return this.registered.every(
      (r) => !r.controller || (r.controller.queue.depth === 0 && r.controller.queue.active === 0),
    );
  }

  override async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.resyncTimer);
    // Workers first, so that nothing reconciles once the Lease is handed back; an in-flight reconcile
    // (already aborted) gets a bounded time to return.
    await Promise.race([this.stopControllers(), new Promise((r) => setTimeout(r, 10_000).unref())]);
    await this.elector.stop();
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
    this.config.log.info('operator stopped', { identity: this.identity });
  }

  private informer(kind: Kind): Informer {
    const id = kindId(kind);
    let informer = this.informers.get(id);
    if (!informer) {
      informer = new Informer({
        kind,
        kubeConfig: this.config.kubeConfig,
        log: this.config.log,
        optionalRetryMs: this.config.optionalRetryMs,
      });
      informer.onChange((change) => this.route(id, change));
      this.informers.set(id, informer);
      if (this.started) informer.start();
    }
    return informer;
  }

  private route(id: string, change: Change): void {
    for (const r of this.registered) {
      if (!r.controller) continue;
      for (const watch of r.reconciler.watches) {
        if (kindId(watch.kind) !== id) continue;
        for (const obj of [change.before, change.after])
          if (obj) for (const key of watch.keys(obj)) r.controller.queue.add(key);
      }
    }
  }

  private enqueueAll(r: Registered, controller: Controller): void {
    for (const watch of r.reconciler.watches) {
      for (const obj of this.informer(watch.kind).store.list())
        for (const key of watch.keys(obj)) controller.queue.add(key);
    }
    for (const key of r.reconciler.initialKeys?.() ?? []) controller.queue.add(key);
  }

  private startControllers(): void {
    if (this.stopped) return;
    for (const r of this.registered) {
      const controller = new Controller({
        reconciler: r.reconciler,
        workers: this.config.workers,
        log: this.config.log,
        metrics: this.metrics,
      });
      r.controller = controller;
      const synced = [...r.kinds].map((id) => this.informers.get(id)?.waitForSync());
      void Promise.all(synced).then(() => {
        if (controller.signal.aborted) return;
        this.enqueueAll(r, controller);
        controller.start();
        this.config.log.info('reconciler started', { controller: r.reconciler.name });
      });
    }
  }

  private async stopControllers(): Promise<void> {
    const running = this.registered.flatMap((r) => (r.controller ? [r.controller] : []));
    for (const r of this.registered) r.controller = undefined;
    await Promise.all(running.map((c) => c.stop()));
  }
}
