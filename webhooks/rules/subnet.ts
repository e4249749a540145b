// SpiderSubnet admission (docs/admission.md#spidersubnet). Mutation: finalizer, ipVersion, the CIDR label, merged
// ranges. Validation: the spec on its own; on create, no overlap with other subnets and no pool of an overlapping but
// different subnet; always, the pools carved from it (and the addresses it set aside for them) stay inside `ips −
// excludeIPs`.
import type { SpiderIPPool, SpiderSubnet } from '../../api/v2beta1/types.ts';
import { FINALIZER, SUBNET_CIDR_LABEL } from '../../api/v2beta1/constants.ts';
import { KINDS } from '../../api/v2beta1/kinds.ts';
import { type CIDR, IPSet } from '../../lib/ip/index.ts';
import type { AdmissionDecision, AdmissionHandler, ClusterView } from '../types.ts';
import { allocatedCount, controlledIPPools } from './allocations.ts';
import { ALLOWED, FORBIDDEN, decide, isTerminating, objectRef, terminatingUpdate } from './decision.ts';
import type { RuleOptions } from './options.ts';
import { addFinalizer, mutation, setLabel } from './patch.ts';
import {
  type CheckedPoolSpec,
  canonicalSubnet,
  checkImmutableSubnet,
  checkPoolSpec,
  cidrLabelValue,
  defaultPoolSpec,
} from './pool-spec.ts';
import { describeSet, effectiveIPs } from './ranges.ts';

const KIND = KINDS.SpiderSubnet.kind;

export const mutateSubnet = (): AdmissionHandler => async (request) => {
  const subnet = request.object as SpiderSubnet | undefined;
  if (!subnet?.spec || isTerminating(subnet)) return ALLOWED;
  return mutation(subnet, (copy) => {
    addFinalizer(copy, FINALIZER);
    defaultPoolSpec(copy.spec);
    const label = cidrLabelValue(copy.spec.subnet);
    if (label) setLabel(copy, SUBNET_CIDR_LABEL, label);
  });
};

const carvedFrom = (subnet: string, pools: SpiderIPPool[]): SpiderIPPool[] => {
  const canonical = canonicalSubnet(subnet);
  return pools.filter((p) => canonical !== undefined && canonicalSubnet(p.spec.subnet) === canonical);
};

function checkOverlaps(
  subnet: SpiderSubnet,
  cidr: CIDR,
  pools: SpiderIPPool[],
  subnets: SpiderSubnet[],
  problems: string[],
): void {
  const overlaps = (other: CIDR) => other.family === cidr.family && other.start <= cidr.end && cidr.start <= other.end;
  for (const other of subnets) {
    const theirs = effectiveIPs(other.spec);
    if (other.metadata.name !== subnet.metadata.name && theirs && overlaps(theirs.cidr)) {
      problems.push(
        `spec.subnet ${cidr.canonical} overlaps spec.subnet ${other.spec.subnet} of SpiderSubnet "${other.metadata.name}"`,
      );
    }
  }
  for (const pool of pools) {
    const theirs = effectiveIPs(pool.spec);
    if (theirs && theirs.cidr.canonical !== cidr.canonical && overlaps(theirs.cidr)) {
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
  pools: SpiderIPPool[],
  stored: SpiderSubnet | undefined,
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

export const validateSubnet =
  (options: RuleOptions): AdmissionHandler =>
  async (request, cluster) => {
    const ref = objectRef(KIND, request);
    const stored = request.oldObject as SpiderSubnet | undefined;
    const terminating = terminatingUpdate(ref, request);
    if (terminating) return terminating;
    if (request.operation === 'DELETE') return validateDelete(ref, stored, cluster);
    const subnet = request.object as SpiderSubnet;
    const problems: string[] = [];
    if (request.operation === 'UPDATE' && stored) checkImmutableSubnet(stored.spec, subnet.spec, problems);
    const checked = checkPoolSpec(subnet.spec, options, problems);
    if (!checked || problems.length > 0) return decide(ref, problems);
    const [pools, subnets] = await Promise.all([cluster.listIPPools(), cluster.listSubnets()]);
    if (request.operation === 'CREATE') checkOverlaps(subnet, checked.cidr, pools, subnets, problems);
    if (problems.length > 0) return decide(ref, problems);
    checkHeld(subnet, checked, pools, request.operation === 'UPDATE' ? stored : undefined, problems);
    return decide(ref, problems, FORBIDDEN);
  };
