// Both subnet controllers delete pools: the application controller those of applications that are gone or moved
// on, the subnet controller those of a terminating subnet. Either may find the pool already going or gone.
import type { CustomObjectsApi } from '@kubernetes/client-node';
import { GROUP, VERSION } from '../../api/v2beta1/constants.ts';
import { KINDS } from '../../api/v2beta1/kinds.ts';
import type { SpiderIPPool } from '../../api/v2beta1/types.ts';
import { isNotFound } from '../../lib/kube.ts';

/** Deletes the pool unless it is already terminating or gone; true when this call deleted it. */
export async function deletePool(custom: CustomObjectsApi, pool: SpiderIPPool): Promise<boolean> {
  if (pool.metadata.deletionTimestamp) return false;
  try {
    await custom.deleteClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: KINDS.SpiderIPPool.plural,
      name: pool.metadata.name,
    });
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}
