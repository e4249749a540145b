// The applications the auto-pool reconciler watches.
import type { Kind } from '../runtime/types.ts';

/** The Kubernetes controllers whose pods may ask for auto-created pools (§6.3). */
export const APP_KINDS = {
  Deployment: { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment', namespaced: true },
  ReplicaSet: { group: 'apps', version: 'v1', plural: 'replicasets', kind: 'ReplicaSet', namespaced: true },
  StatefulSet: { group: 'apps', version: 'v1', plural: 'statefulsets', kind: 'StatefulSet', namespaced: true },
  DaemonSet: { group: 'apps', version: 'v1', plural: 'daemonsets', kind: 'DaemonSet', namespaced: true },
  Job: { group: 'batch', version: 'v1', plural: 'jobs', kind: 'Job', namespaced: true },
} as const satisfies Record<string, Kind>;

export type AppKind = keyof typeof APP_KINDS;

export const isAppKind = (kind: string): kind is AppKind => Object.hasOwn(APP_KINDS, kind);
