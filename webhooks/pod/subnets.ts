// Rule 1 of pool selection (docs/pool-selection.md#rules): a pod whose application gets an auto-created pool from a
// SpiderSubnet. The pool itself is created by the controller after the application exists, so admission checks only
// what the pod names.
import type { V1Pod } from '@kubernetes/client-node';
import type { SpiderSubnet } from '../../api/v2beta1/types.ts';
import { ANNOTATION } from '../../api/v2beta1/constants.ts';
import type { PodIPAMAnnotations } from '../../ipam/selection/index.ts';
import type { Family } from '../../lib/ip/index.ts';
import type { ClusterView } from '../types.ts';
import { forbidden } from './denied.ts';

const FAMILIES: Family[] = [4, 6];

/** Throws PodDenied when the pod cannot have an auto-created pool. */
export async function checkSubnetAnnotations(
  pod: V1Pod,
  ipam: PodIPAMAnnotations,
  cluster: ClusterView,
): Promise<void> {
  const items = ipam.subnets ?? (ipam.subnet ? [ipam.subnet] : []);
  const key = ipam.subnets ? ANNOTATION.subnets : ANNOTATION.subnet;
  if (!pod.metadata?.ownerReferences?.some((ref) => ref.controller)) {
    throw forbidden(
      `annotation ${key} asks for an auto-created SpiderIPPool, but the SpiderSubnet feature doesn't support no-controller pod; ` +
        `create the pod through a Deployment, StatefulSet, DaemonSet or Job, or name pools with ${ANNOTATION.ippool}`,
    );
  }
  const subnets = new Map((await cluster.listSubnets()).map((s) => [s.metadata.name, s]));
  for (const item of items) {
    for (const family of FAMILIES) {
      const name = family === 4 ? item.ipv4 : item.ipv6;
      if (name === undefined) continue;
      const where = `annotation ${key} (interface ${item.interface}, IPv${family})`;
      const subnet = subnets.get(name);
      if (!subnet) throw forbidden(`SpiderSubnet "${name}" named in ${where} does not exist`);
      if (subnet.metadata.deletionTimestamp) throw forbidden(`SpiderSubnet "${name}" named in ${where} is terminating`);
      const actual = subnetFamily(subnet);
      if (actual !== family)
        throw forbidden(
          `SpiderSubnet "${name}" named in ${where} is IPv${actual} (subnet ${subnet.spec.subnet}), not IPv${family}`,
        );
    }
  }
}

const subnetFamily = (subnet: SpiderSubnet): Family =>
  subnet.spec.ipVersion ?? (subnet.spec.subnet.includes(':') ? 6 : 4);
