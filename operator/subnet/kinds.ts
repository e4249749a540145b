// The applications the auto-pool reconciler watches.
import { STATEFUL_SET } from '../kinds.ts';
import type { Kind } from '../runtime/types.ts';

/** The Kubernetes controllers whose pods may ask for auto-created pools (docs/auto-pools.md#applications). */
export const APP_KINDS = {
  Deployment: { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment', namespaced: true },
  ReplicaSet: { group: 'apps', version: 'v1', plural: 'replicasets', kind: 'ReplicaSet', namespaced: true },
  StatefulSet: STATEFUL_SET,
  DaemonSet: { group: 'apps', version: 'v1', plural: 'daemonsets', kind: 'DaemonSet', namespaced: true },
  Job: { group: 'batch', version: 'v1', plural: 'jobs', kind: 'Job', namespaced: true },
} as const satisfies Record<string, Kind>;

export type AppKind = keyof typeof APP_KINDS;

export const isAppKind = (kind: string): kind is AppKind => Object.hasOwn(APP_KINDS, kind);
