// Facts about a SpiderIPPool that several selection steps need.
import type { SpiderIPPool } from '../../api/v2beta1/types.ts';
import type { IPFamily } from './types.ts';

/** Labels the subnet controller puts on the pools it creates for an application (§3.3). */
export const AUTO_POOL_LABEL = {
  ownerApplicationName: 'ipam.spidernet.io/owner-application-name',
  ownerApplicationUID: 'ipam.spidernet.io/owner-application-uid',
  ownerSpiderSubnet: 'ipam.spidernet.io/owner-spider-subnet',
  interface: 'ipam.spidernet.io/interface',
  ipVersion: 'ipam.spidernet.io/ip-version',
} as const;

/** The podAffinity matchLabels that bind an auto-created pool to its application. */
export const APP_AFFINITY_LABEL = {
  group: 'ipam.spidernet.io/app-api-group',
  version: 'ipam.spidernet.io/app-api-version',
  kind: 'ipam.spidernet.io/app-kind',
  namespace: 'ipam.spidernet.io/app-namespace',
  name: 'ipam.spidernet.io/app-name',
} as const;

/**
 * The pool's family. The mutating webhook fills spec.ipVersion from the subnet, but a pool written while
 * the webhook was unavailable may lack it, so the subnet decides then.
 */
export function poolFamily(pool: SpiderIPPool): IPFamily {
  return pool.spec.ipVersion ?? (pool.spec.subnet.includes(':') ? 6 : 4);
}

/** Only pools created by the subnet controller carry the owner-application-name label. */
export function isAutoCreatedPool(pool: SpiderIPPool): boolean {
  return pool.metadata.labels?.[AUTO_POOL_LABEL.ownerApplicationName] !== undefined;
}
