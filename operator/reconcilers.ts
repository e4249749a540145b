// The reconcilers the controller process runs, in start order. Their settings come in from the caller
// (the controller's configuration), never from the environment, so tests and the process share one path.
import { createCalicoPoolReconciler } from './calico/reconciler.ts';
import { createCoordinatorReconciler } from './coordinator/reconciler.ts';
import type { GcOptions } from './gc/options.ts';
import { createGarbageCollector } from './gc/reconciler.ts';
import { createIPPoolReconciler } from './ippool/reconciler.ts';
import { createMultusConfigReconciler } from './multusconfig/reconciler.ts';
import type { ReconcilerFactory } from './runtime/types.ts';
import { createStatefulSetRetention } from './statefulset/reconciler.ts';
import { createAutoPoolReconciler } from './subnet/auto-pool-reconciler.ts';
import { createSubnetStatusReconciler } from './subnet/subnet-status-reconciler.ts';
import { createThirdPartyPoolReconciler } from './subnet/third-party-reconciler.ts';

export interface ReconcilerOptions {
  /** The host's CNI configuration directory as mounted into the controller (default /etc/cni/net.d). */
  cniConfigDir?: string;
  /** IP garbage collection and StatefulSet address retention. */
  gc: GcOptions;
}

export function createReconcilers(options: ReconcilerOptions): ReconcilerFactory[] {
  return [
    createIPPoolReconciler,
    createSubnetStatusReconciler,
    createAutoPoolReconciler,
    createThirdPartyPoolReconciler,
    createMultusConfigReconciler,
    (ctx) => createCoordinatorReconciler(ctx, { cniConfigDir: options.cniConfigDir }),
    createCalicoPoolReconciler,
    (ctx) => createStatefulSetRetention(ctx, options.gc),
    (ctx) => createGarbageCollector(ctx, options.gc),
  ];
}
