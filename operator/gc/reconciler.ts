// The IP garbage collector (docs/garbage-collection.md#when-gc-runs). Event driven by pod key: a pod or SpiderEndpoint
// that changes or disappears has its records judged at once, and again when a grace period it waits for ends. A full
// scan of every pool record and endpoint runs at start, then every `intervalMs`, for what no event announced (records
// written for a pod that was already gone, a controller that was down).
import type { KubernetesObject } from '@kubernetes/client-node';
import { KINDS } from '../../api/v2beta1/kinds.ts';
import { keyOf, type Reconciler, type ReconcilerContext } from '../runtime/types.ts';
import { newCollector, recheckResult } from './collector.ts';
import { POD, STATEFUL_SET, VIRTUAL_MACHINE, VIRTUAL_MACHINE_INSTANCE } from '../kinds.ts';
import type { GcOptions } from './options.ts';

/** The key of the full scan; a colon cannot appear in a namespace or object name. */
const FULL_SCAN_KEY = 'gc:full-scan';

export const GC_RECONCILER = 'ip-gc';

export function createGarbageCollector(ctx: ReconcilerContext, options: GcOptions): Reconciler {
  const name = GC_RECONCILER;
  if (!options.enabled) return { name, watches: [], reconcile: async () => undefined };
  const log = ctx.log.child({ reconciler: name });
  const collector = newCollector(ctx, options, log);
  log.info('IP garbage collection on', { ...options });
  return {
    name,
    watches: [
      { kind: POD, keys: (pod) => [keyOf(pod)] },
      { kind: KINDS.SpiderEndpoint, keys: (endpoint) => [keyOf(endpoint)] },
      // Read from the caches only: a new record belongs to a pod whose own events follow, and what
      // slips past them is the full scan's.
      { kind: KINDS.SpiderIPPool, keys: () => [] },
      { kind: STATEFUL_SET, keys: () => [] },
      // A VM's records are kept under its VMI's name, which is also the VM's: its changes judge them at once.
      ...(options.enableKubevirtStaticIP
        ? [VIRTUAL_MACHINE_INSTANCE, VIRTUAL_MACHINE].map((kind) => ({
            kind,
            keys: (o: KubernetesObject) => [keyOf(o)],
          }))
        : []),
    ],
    initialKeys: () => [FULL_SCAN_KEY],
    async reconcile(key) {
      if (key === FULL_SCAN_KEY) {
        await collector.scan();
        return { requeueAfterMs: options.intervalMs };
      }
      const { recheckAt } = await collector.collectPod(key);
      return recheckResult(recheckAt);
    },
  };
}
