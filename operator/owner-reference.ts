// Objects the operator generates point at the Spiderpool object they come from, so Kubernetes' garbage collector
// deletes them with it.
import type { V1ObjectMeta, V1OwnerReference } from '@kubernetes/client-node';
import type { ApiKind } from '../api/v2beta1/kinds.ts';

/** A controller reference to `owner`, of kind `kind`, that also holds back a foreground deletion of the owner. */
export function controllerReference(
  kind: ApiKind,
  owner: { metadata: V1ObjectMeta & { name: string } },
): V1OwnerReference {
  return {
    apiVersion: kind.apiVersion,
    kind: kind.kind,
    name: owner.metadata.name,
    uid: owner.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}
