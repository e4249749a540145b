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
  // Served from Kubernetes 1.21 on; older clusters serve CRON_JOB_V1BETA1, which stands in for it.
  CronJob: { group: 'batch', version: 'v1', plural: 'cronjobs', kind: 'CronJob', namespaced: true, optional: true },
} as const satisfies Record<string, Kind>;

/** CronJobs of clusters before 1.21 (gone in 1.25), handled as batch/v1 CronJobs: the fields used are the same. */
export const CRON_JOB_V1BETA1: Kind = { ...APP_KINDS.CronJob, version: 'v1beta1' };

export type AppKind = keyof typeof APP_KINDS;

export const isAppKind = (kind: string): kind is AppKind => Object.hasOwn(APP_KINDS, kind);
