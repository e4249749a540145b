// SpiderIPPool admission (docs/admission.md#spiderippool). Mutation: finalizer, ipVersion, the CIDR label, ownership by
// the SpiderSubnet of the same subnet (with its gateway and routes when the pool has none), merged ranges. Validation:
// the spec on its own, then against the other pools and subnets (and the SpiderSubnets it names as owners), then
// against what it holds: an auto-created pool's ledger entry and the addresses pods hold.
import type { V1OwnerReference } from '@kubernetes/client-node';
import type { SpiderIPPool, SpiderSubnet } from '../../api/v2beta1/types.ts';
import { APP_AFFINITY_LABEL, GROUP, OWNER_SUBNET_LABEL, POOL_CIDR_LABEL } from '../../api/v2beta1/constants.ts';
import { KINDS } from '../../api/v2beta1/kinds.ts';
import { isAutoCreatedPool } from '../../ipam/selection/pools.ts';
import { type CIDR, IPSet, parseIP } from '../../lib/ip/index.ts';
import type { AdmissionDecision, AdmissionHandler } from '../types.ts';
import { allocatedCount, allocations, controlledIPPools } from './allocations.ts';
import { ALLOWED, FORBIDDEN, decide, isTerminating, show } from './decision.ts';
import { checkSelector } from './names.ts';
import type { RuleOptions } from './options.ts';
import { mutation, setLabel } from './patch.ts';
import { type Peers, cidrsOverlap, defaultPoolOrSubnet, validatePoolOrSubnet } from './pool-admission.ts';
import { type CheckedPoolSpec, canonicalSubnet } from './pool-spec.ts';
import { describeSet, effectiveIPs } from './ranges.ts';

const KIND = KINDS.SpiderIPPool.kind;

/** The SpiderSubnet a pool is carved from: the one with the same subnet. */
function owningSubnet(subnet: string, subnets: SpiderSubnet[]): SpiderSubnet | undefined {
  const canonical = canonicalSubnet(subnet);
  return canonical === undefined ? undefined : subnets.find((s) => canonicalSubnet(s.spec.subnet) === canonical);
}

function adoptBySubnet(pool: SpiderIPPool, subnet: SpiderSubnet): void {
  const refs = pool.metadata.ownerReferences ?? [];
  if (!refs.some((r) => r.controller) && subnet.metadata.uid) {
    const owner: V1OwnerReference = {
      apiVersion: KINDS.SpiderSubnet.apiVersion,
      kind: KINDS.SpiderSubnet.kind,
      name: subnet.metadata.name,
      uid: subnet.metadata.uid,
      controller: true,
      blockOwnerDeletion: true,
    };
    pool.metadata.ownerReferences = [...refs, owner];
  }
  if (refs.every((r) => !r.controller || r.kind === KINDS.SpiderSubnet.kind))
    setLabel(pool, OWNER_SUBNET_LABEL, subnet.metadata.name);
  // Only an absent field inherits: an explicit empty route list means "no routes".
  if (pool.spec.gateway === undefined && subnet.spec.gateway !== undefined) pool.spec.gateway = subnet.spec.gateway;
  if (pool.spec.routes === undefined && subnet.spec.routes !== undefined) pool.spec.routes = subnet.spec.routes;
}

export const mutateIPPool = (): AdmissionHandler => async (request, cluster) => {
  const pool = request.object as SpiderIPPool | undefined;
  if (!pool?.spec || isTerminating(pool)) return ALLOWED;
  const subnet = owningSubnet(pool.spec.subnet, await cluster.listSubnets());
  return mutation(pool, (copy) => {
    defaultPoolOrSubnet(copy, POOL_CIDR_LABEL);
    if (subnet && !isTerminating(subnet)) adoptBySubnet(copy, subnet);
  });
};

function checkAffinities(pool: SpiderIPPool, problems: string[]): void {
  const { podAffinity, namespaceAffinity, nodeAffinity } = pool.spec;
  if (podAffinity && isAutoCreatedPool(pool)) {
    const allowed: string[] = Object.values(APP_AFFINITY_LABEL);
    const extra = Object.keys(podAffinity.matchLabels ?? {}).filter((k) => !allowed.includes(k));
    if (extra.length > 0)
      problems.push(
        `spec.podAffinity.matchLabels ${show(extra)}: an auto-created pool only carries the ipam.spidernet.io/app-* keys`,
      );
    if ((podAffinity.matchExpressions ?? []).length > 0)
      problems.push('spec.podAffinity.matchExpressions: an auto-created pool cannot have any');
  } else if (podAffinity) {
    if (Object.keys(podAffinity.matchLabels ?? {}).length === 0 && (podAffinity.matchExpressions ?? []).length === 0) {
      problems.push(
        'spec.podAffinity is empty, which would match every pod: remove it or give it matchLabels or matchExpressions',
      );
    }
    checkSelector('spec.podAffinity', podAffinity, problems);
  }
  if (namespaceAffinity) checkSelector('spec.namespaceAffinity', namespaceAffinity, problems);
  if (nodeAffinity) checkSelector('spec.nodeAffinity', nodeAffinity, problems);
}

const subnetOwners = (pool: SpiderIPPool): [number, V1OwnerReference][] =>
  (pool.metadata.ownerReferences ?? [])
    .map((owner, i): [number, V1OwnerReference] => [i, owner])
    .filter(([, owner]) => owner.kind === KINDS.SpiderSubnet.kind && owner.apiVersion.startsWith(`${GROUP}/`));

/**
 * Each SpiderSubnet the pool names as owner exists (with that uid) and has the pool's subnet: the garbage collector
 * would delete a pool whose owner is missing moments after admitting it.
 */
function checkSubnetOwners(pool: SpiderIPPool, cidr: CIDR, subnets: SpiderSubnet[], problems: string[]): void {
  for (const [i, owner] of subnetOwners(pool)) {
    const at = `metadata.ownerReferences[${i}] names ${KINDS.SpiderSubnet.kind} ${show(owner.name)}`;
    const subnet = subnets.find((s) => s.metadata.name === owner.name);
    if (!subnet) problems.push(`${at}, which does not exist: the garbage collector would delete the pool at once`);
    else if (owner.uid && owner.uid !== subnet.metadata.uid)
      problems.push(`${at} with uid ${owner.uid}, but its uid is ${subnet.metadata.uid}`);
    else if (canonicalSubnet(subnet.spec.subnet) !== cidr.canonical)
      problems.push(`${at}, whose spec.subnet ${subnet.spec.subnet} is not the pool's ${cidr.canonical}`);
  }
}

/**
 * Rules against other objects: subnets that overlap without being the same, shared addresses, the owning subnet's
 * range.
 */
function checkPeers(
  pool: SpiderIPPool,
  checked: CheckedPoolSpec,
  creating: boolean,
  { pools, subnets }: Peers,
  problems: string[],
): void {
  const { cidr } = checked;
  checkSubnetOwners(pool, cidr, subnets, problems);
  for (const other of pools) {
    if (other.metadata.name === pool.metadata.name) continue;
    const theirs = effectiveIPs(other.spec);
    if (!theirs || theirs.cidr.family !== cidr.family) continue;
    const name = other.metadata.name;
    if (theirs.cidr.canonical !== cidr.canonical) {
      // Checked on create only: a stored pool's subnet cannot change.
      if (creating && cidrsOverlap(cidr, theirs.cidr))
        problems.push(`spec.subnet ${cidr.canonical} overlaps spec.subnet ${other.spec.subnet} of ${KIND} "${name}"`);
      continue;
    }
    const shared = checked.effective.intersect(theirs.effective);
    if (shared.isEmpty()) continue;
    const item = checked.ipItems.find((i) => i.set.overlaps(shared));
    const field = item ? `spec.ips[${item.index}] ${show(item.text)}` : 'spec.ips';
    problems.push(`${field} overlaps spec.ips of ${KIND} "${name}" at ${describeSet(shared)}`);
  }
  for (const subnet of subnets) {
    const theirs = effectiveIPs(subnet.spec);
    if (!theirs || !cidrsOverlap(cidr, theirs.cidr)) continue;
    if (theirs.cidr.canonical !== cidr.canonical) {
      if (creating)
        problems.push(
          `spec.subnet ${cidr.canonical} overlaps spec.subnet ${subnet.spec.subnet} of SpiderSubnet "${subnet.metadata.name}": a pool inside a SpiderSubnet must use the same spec.subnet`,
        );
      continue;
    }
    const outside = checked.effective.subtract(theirs.effective);
    if (!outside.isEmpty()) {
      problems.push(
        `spec.ips ${describeSet(outside)} is outside the addresses of SpiderSubnet "${subnet.metadata.name}" (its spec.ips − spec.excludeIPs), which this pool is carved from`,
      );
    }
  }
}

/** Addresses pods hold must stay in `ips − excludeIPs`. */
function checkInUse(stored: SpiderIPPool, checked: CheckedPoolSpec, problems: string[]): void {
  const lost: string[] = [];
  for (const [ip, record] of allocations(stored)) {
    let addr;
    try {
      addr = parseIP(ip);
    } catch {
      continue;
    }
    if (addr.family !== checked.cidr.family || checked.effective.contains(addr.value)) continue;
    const field = checked.ips.contains(addr.value) ? 'spec.excludeIPs' : 'spec.ips';
    lost.push(`${field} leaves out ${ip}, which is allocated to Pod ${record.pod}`);
  }
  if (lost.length > 0) {
    const more = lost.length > 3 ? ` and ${lost.length - 3} more allocated addresses` : '';
    problems.push(
      `${lost.slice(0, 3).join(', ')}${more}: release them (delete the pods) before removing them from the pool`,
    );
  }
}

/**
 * An auto-created pool gains only addresses its SpiderSubnet's ledger (status.controlledIPPools) sets aside for it:
 * the ledger is what keeps two pools from being carved the same address. The controller writes the ledger before
 * a pool grows, and shrinks a pool before the ledger lets its addresses go, so losing addresses is allowed.
 */
function checkLedger(
  pool: SpiderIPPool,
  checked: CheckedPoolSpec,
  stored: SpiderIPPool | undefined,
  subnets: SpiderSubnet[],
  problems: string[],
): void {
  if (!isAutoCreatedPool(pool)) return;
  const owner = subnetOwners(pool).find(([, o]) => o.controller)?.[1];
  const subnet = owner && subnets.find((s) => s.metadata.name === owner.name);
  if (!subnet) return;
  const family = checked.cidr.family;
  let recorded = IPSet.empty(family);
  try {
    recorded = IPSet.fromRanges(controlledIPPools(subnet).get(pool.metadata.name) ?? [], family);
  } catch {
    // an unreadable entry sets nothing aside
  }
  const before = stored ? effectiveIPs(stored.spec)?.effective : undefined;
  const gained = before ? checked.effective.subtract(before) : checked.effective;
  const unrecorded = gained.subtract(recorded);
  if (unrecorded.isEmpty()) return;
  problems.push(
    `spec.ips ${describeSet(unrecorded)} are not what SpiderSubnet ${show(subnet.metadata.name)} records for this auto-created pool in status.controlledIPPools (${recorded.isEmpty() ? 'nothing' : describeSet(recorded)}): the controller sizes auto-created pools, change the application's ipam.spidernet.io/ippool-ip-number or replicas instead`,
  );
}

function validateDelete(ref: string, stored: SpiderIPPool | undefined): AdmissionDecision {
  if (!stored) return ALLOWED;
  const count = allocatedCount(stored);
  if (count === 0) return ALLOWED;
  const [first] = allocations(stored);
  const example = first ? ` (${first[0]} is allocated to Pod ${first[1].pod})` : '';
  return decide(
    ref,
    [
      `cannot be deleted while status.allocatedIPs holds ${count} allocated IPs${example}: delete the pods using the pool first`,
    ],
    FORBIDDEN,
  );
}

export const validateIPPool = (options: RuleOptions): AdmissionHandler =>
  validatePoolOrSubnet<SpiderIPPool>(options, {
    kind: KIND,
    validateDelete,
    checkObject: checkAffinities,
    checkPeers,
    checkHeld: (pool, checked, stored, { subnets }, problems) => {
      checkLedger(pool, checked, stored, subnets, problems);
      if (stored) checkInUse(stored, checked, problems);
    },
  });
