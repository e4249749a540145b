// The IP garbage collector (spec §6.7). Event driven by pod key: a pod or SpiderEndpoint that changes or
// disappears has its records judged at once, and again when a grace period it waits for ends. A full scan
// of every pool record and endpoint runs at start, then every `intervalMs`, for what no event announced
// (records written for a pod that was already gone, a controller that was down).
import { keyOf, type Reconciler, type ReconcilerFactory } from '../runtime/types.ts';
import { GcClient } from './client.ts';
import { Collector } from './collector.ts';
import { POD, SPIDER_ENDPOINT, SPIDER_IPPOOL, STATEFUL_SET } from '../kinds.ts';
import { gcMetrics } from './metrics.ts';
import { gcOptionsFromEnv, type GcOptions } from './options.ts';

/** The key of the full scan; a colon cannot appear in a namespace or object name. */
export const FULL_SCAN_KEY = 'gc:full-scan';

/** The garbage collector with the environment's settings, each overridable. */
export function garbageCollector(overrides: Partial<GcOptions> = {}): ReconcilerFactory {
  return (ctx): Reconciler => {
    const options = { ...gcOptionsFromEnv(), ...overrides };
    const name = 'ip-gc';
    if (!options.enabled) return { name, watches: [], reconcile: async () => undefined };
    const log = ctx.log.child({ reconciler: name });
    const collector = new Collector({ caches: ctx.caches, client: new GcClient(ctx.kubeConfig), options, metrics: gcMetrics(ctx.registry), log });
    log.info('IP garbage collection on', { ...options });
    return {
      name,
      watches: [
        { kind: POD, keys: (pod) => [keyOf(pod)] },
        { kind: SPIDER_ENDPOINT, keys: (endpoint) => [keyOf(endpoint)] },
        // Read from the caches only: a new record belongs to a pod whose own events follow, and what
        // slips past them is the full scan's.
        { kind: SPIDER_IPPOOL, keys: () => [] },
        { kind: STATEFUL_SET, keys: () => [] },
      ],
      initialKeys: () => [FULL_SCAN_KEY],
      async reconcile(key) {
        if (key === FULL_SCAN_KEY) {
          await collector.scan();
          return { requeueAfterMs: options.intervalMs };
        }
        const { recheckAt } = await collector.collectPod(key);
        return recheckAt === undefined ? undefined : { requeueAfterMs: Math.max(0, recheckAt - Date.now()) + 50 };
      },
    };
  };
}

export const createGarbageCollector: ReconcilerFactory = (ctx) => garbageCollector()(ctx);
