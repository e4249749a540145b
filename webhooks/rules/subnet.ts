// SpiderSubnet admission (docs/admission.md#spidersubnet). Mutation: finalizer, ipVersion, the CIDR label, merged
// ranges. Validation: the spec on its own; on create, no overlap with other subnets and no pool of an overlapping but
// different subnet; always, the pools carved from it (and the addresses it set aside for them) stay inside `ips −
// excludeIPs`.
import type { SpiderIPPool, SpiderSubnet } from '../../api/v2beta1/types.ts';
import { SUBNET_CIDR_LABEL } from '../../api/v2beta1/constants.ts';
import { KINDS } from '../../api/v2beta1/kinds.ts';
import { type CIDR, IPSet } from '../../lib/ip/index.ts';
import type { AdmissionDecision, AdmissionHandler, ClusterView } from '../types.ts';
import { allocatedCount, controlledIPPools } from './allocations.ts';
import { ALLOWED, FORBIDDEN, decide, isTerminating } from './decision.ts';
import type { RuleOptions } from './options.ts';
import { mutation } from './patch.ts';
import { type Peers, cidrsOverlap, defaultPoolOrSubnet, validatePoolOrSubnet } from './pool-admission.ts';
import { type CheckedPoolSpec, canonicalSubnet } from './pool-spec.ts';
import { describeSet, effectiveIPs } from './ranges.ts';

const KIND = KINDS.SpiderSubnet.kind;

export const mutateSubnet = (): AdmissionHandler => async (request) => {
  const subnet = request.object as SpiderSubnet | undefined;
  if (!subnet?.spec || isTerminating(subnet)) return ALLOWED;
  return mutation(subnet, (copy) => {
    defaultPoolOrSubnet(copy, SUBNET_CIDR_LABEL);
  });
};

const carvedFrom = (subnet: string, pools: SpiderIPPool[]): SpiderIPPool[] => {
  const canonical = canonicalSubnet(subnet);
  return pools.filter((p) => canonical !== undefined && canonicalSubnet(p.spec.subnet) === canonical);
};

/** On create: no overlap with other subnets, and no pool of an overlapping but different subnet. */
function checkOverlaps(subnet: SpiderSubnet, cidr: CIDR, { pools, subnets }: Peers, problems: string[]): void {
  for (const other of subnets) {
    const theirs = effectiveIPs(other.spec);
    if (other.metadata.name !== subnet.metadata.name && theirs && cidrsOverlap(theirs.cidr, cidr)) {
      problems.push(
        `spec.subnet ${cidr.canonical} overlaps spec.subnet ${other.spec.subnet} of SpiderSubnet "${other.metadata.name}"`,
      );
    }
  }
  for (const pool of pools) {
    const theirs = effectiveIPs(pool.spec);
    if (theirs && theirs.cidr.canonical !== cidr.canonical && cidrsOverlap(theirs.cidr, cidr)) {
      problems.push(
        `spec.subnet ${cidr.canonical} overlaps spec.subnet ${pool.spec.subnet} of SpiderIPPool "${pool.metadata.name}": pools inside a SpiderSubnet must use the same spec.subnet`,
      );
    }
  }
}

/**
 * What each carved pool hands out, plus what the subnet set aside for pools (auto pools not created yet), must stay
 * inside.
 */
function checkHeld(
  subnet: SpiderSubnet,
  checked: CheckedPoolSpec,
  stored: SpiderSubnet | undefined,
  { pools }: Peers,
  problems: string[],
): void {
  const held = new Map<string, IPSet>();
  for (const pool of carvedFrom(subnet.spec.subnet, pools)) {
    const theirs = effectiveIPs(pool.spec);
    if (theirs) held.set(pool.metadata.name, theirs.effective);
  }
  for (const [name, ranges] of stored ? controlledIPPools(stored) : []) {
    try {
      const set = IPSet.fromRanges(ranges, checked.cidr.family);
      held.set(name, held.get(name)?.union(set) ?? set);
    } catch {
      // unreadable entries cannot be held against the update
    }
  }
  for (const [name, set] of held) {
    const outside = set.subtract(checked.effective);
    if (!outside.isEmpty()) {
      problems.push(
        `spec.ips − spec.excludeIPs leaves out ${describeSet(outside)}, which SpiderIPPool "${name}" holds: shrink or delete the pool first`,
      );
    }
  }
}

async function validateDelete(
  ref: string,
  stored: SpiderSubnet | undefined,
  cluster: ClusterView,
): Promise<AdmissionDecision> {
  if (!stored) return ALLOWED;
  const busy = carvedFrom(stored.spec.subnet, await cluster.listIPPools()).filter((p) => allocatedCount(p) > 0);
  return decide(
    ref,
    busy.map(
      (p) =>
        `cannot be deleted while SpiderIPPool "${p.metadata.name}" carved from it holds ${allocatedCount(p)} allocated IPs: delete the pods using it first`,
    ),
    FORBIDDEN,
  );
}

export const validateSubnet = (options: RuleOptions): AdmissionHandler =>
  validatePoolOrSubnet<SpiderSubnet>(options, {
    kind: KIND,
    validateDelete,
    checkPeers: (subnet, checked, creating, peers, problems) => {
      if (creating) checkOverlaps(subnet, checked.cidr, peers, problems);
    },
    checkHeld,
  });
