// Facts about a SpiderIPPool that several selection steps need.
import type { SpiderIPPool } from '../../api/v2beta1/types.ts';
import { AUTO_POOL_LABEL } from '../../api/v2beta1/constants.ts';

/** Only pools created by the subnet controller carry the owner-application-name label. */
export function isAutoCreatedPool(pool: SpiderIPPool): boolean {
  return pool.metadata.labels?.[AUTO_POOL_LABEL.ownerApplicationName] !== undefined;
}
