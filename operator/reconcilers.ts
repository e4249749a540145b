// The reconcilers the controller process runs, in start order.
import { createCalicoPoolReconciler } from './calico/reconciler.ts';
import { createCoordinatorReconciler } from './coordinator/reconciler.ts';
import { createGarbageCollector } from './gc/reconciler.ts';
import { ipPoolReconciler } from './ippool/reconciler.ts';
import { createMultusConfigReconciler } from './multusconfig/reconciler.ts';
import type { ReconcilerFactory } from './runtime/types.ts';
import { createStatefulSetRetention } from './statefulset/reconciler.ts';
import { createAutoPoolReconciler } from './subnet/auto-pool-reconciler.ts';
import { createSubnetStatusReconciler } from './subnet/subnet-status-reconciler.ts';

export const reconcilers: readonly ReconcilerFactory[] = [
  ipPoolReconciler,
  createSubnetStatusReconciler,
  createAutoPoolReconciler,
  createMultusConfigReconciler,
  createCoordinatorReconciler,
  createCalicoPoolReconciler,
  createStatefulSetRetention,
  createGarbageCollector,
];
