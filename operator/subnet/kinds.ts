// The kinds the subnet reconcilers watch.
import { GROUP, VERSION } from '../../api/v2beta1/types.ts';
import type { Kind } from '../runtime/types.ts';

const spiderpool = (plural: string, kind: string): Kind => ({ group: GROUP, version: VERSION, plural, kind, namespaced: false });

export const SPIDER_SUBNET = spiderpool('spidersubnets', 'SpiderSubnet');
export const SPIDER_IPPOOL = spiderpool('spiderippools', 'SpiderIPPool');
export const SPIDER_RESERVED_IP = spiderpool('spiderreservedips', 'SpiderReservedIP');

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
