// The controller's Prometheus metrics: the runtime's own series (reconciles, work queues, leadership).
// Reconcilers register their series on the same registry through ReconcilerContext.registry; the daemon
// shell's endpoint (lib/daemon/health.ts) serves it.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface RuntimeMetrics {
  reconciles: Counter<'controller' | 'result'>;
  reconcileErrors: Counter<'controller'>;
  reconcileSeconds: Histogram<'controller'>;
  queueRetries: Counter<'controller'>;
}

export interface RuntimeState {
  /** Work-queue depth per reconciler name (0 for every reconciler while not leading). */
  queueDepths(): Iterable<[string, number]>;
  isLeader(): boolean;
  /** Objects in the cache per watched kind. */
  cacheSizes(): Iterable<[string, number]>;
}

export function createRuntimeMetrics(registry: Registry, state: RuntimeState): RuntimeMetrics {
  const registers = [registry];
  new Gauge({
    name: 'spiderpool_controller_workqueue_depth',
    help: 'Keys waiting in the work queue of each reconciler',
    labelNames: ['controller'],
    registers,
    collect() {
      this.reset();
      for (const [controller, depth] of state.queueDepths()) this.set({ controller }, depth);
    },
  });
  new Gauge({
    name: 'spiderpool_controller_leader',
    help: '1 while this replica holds the leader Lease, else 0',
    registers,
    collect() {
      this.set(state.isLeader() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'spiderpool_controller_cache_objects',
    help: 'Objects in the watch cache of each kind',
    labelNames: ['kind'],
    registers,
    collect() {
      this.reset();
      for (const [kind, size] of state.cacheSizes()) this.set({ kind }, size);
    },
  });
  return {
    reconciles: new Counter({
      name: 'spiderpool_controller_reconcile_total',
      help: 'Reconciles by reconciler and result (success, error, conflict)',
      labelNames: ['controller', 'result'],
      registers,
    }),
    reconcileErrors: new Counter({
      name: 'spiderpool_controller_reconcile_errors_total',
      help: 'Reconciles that failed with an error other than a conflict',
      labelNames: ['controller'],
      registers,
    }),
    reconcileSeconds: new Histogram({
      name: 'spiderpool_controller_reconcile_duration_seconds',
      help: 'Duration of one reconcile',
      labelNames: ['controller'],
      registers,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    }),
    queueRetries: new Counter({
      name: 'spiderpool_controller_workqueue_retries_total',
      help: 'Keys requeued with back-off after a failed reconcile',
      labelNames: ['controller'],
      registers,
    }),
  };
}
