// The admission steps SpiderIPPool and SpiderSubnet share (docs/admission.md#pool-and-subnet-spec-rules). Mutation
// adds the finalizer, defaults the spec and sets the CIDR label. Validation checks the object on its own, then
// against the other pools and subnets (both Invalid), and only then against the addresses it holds (Forbidden:
// other objects' state stands in the way).
import type { SpiderIPPool, SpiderSubnet } from '../../api/v2beta1/types.ts';
import { FINALIZER } from '../../api/v2beta1/constants.ts';
import type { CIDR } from '../../lib/ip/index.ts';
import type { AdmissionDecision, AdmissionHandler, ClusterView } from '../types.ts';
import { FORBIDDEN, decide, objectRef, terminatingUpdate } from './decision.ts';
import type { RuleOptions } from './options.ts';
import { addFinalizer, setLabel } from './patch.ts';
import {
  type CheckedPoolSpec,
  checkImmutableSubnet,
  checkPoolSpec,
  cidrLabelValue,
  defaultPoolSpec,
} from './pool-spec.ts';

type PoolOrSubnet = SpiderIPPool | SpiderSubnet;

export const cidrsOverlap = (a: CIDR, b: CIDR): boolean =>
  a.family === b.family && a.start <= b.end && b.start <= a.end;

/** The mutation both kinds start with; `cidrLabel` is the label that lists the object by its subnet. */
export function defaultPoolOrSubnet(copy: PoolOrSubnet, cidrLabel: string): void {
  addFinalizer(copy, FINALIZER);
  defaultPoolSpec(copy.spec);
  const label = cidrLabelValue(copy.spec.subnet);
  if (label) setLabel(copy, cidrLabel, label);
}

/** Every pool and subnet, read once per request. */
export interface Peers {
  pools: SpiderIPPool[];
  subnets: SpiderSubnet[];
}

/** What a kind adds to the shared validation. */
export interface PoolOrSubnetRules<T extends PoolOrSubnet> {
  kind: string;
  validateDelete(
    ref: string,
    stored: T | undefined,
    cluster: ClusterView,
  ): AdmissionDecision | Promise<AdmissionDecision>;
  /** Rules on the object alone beyond the spec rules of both kinds. */
  checkObject?(object: T, problems: string[]): void;
  /** Rules against the other pools and subnets. */
  checkPeers(object: T, checked: CheckedPoolSpec, creating: boolean, peers: Peers, problems: string[]): void;
  /** Rules against what the object holds; `stored` is the object before an update, undefined on create. */
  checkHeld(object: T, checked: CheckedPoolSpec, stored: T | undefined, peers: Peers, problems: string[]): void;
}

export const validatePoolOrSubnet =
  <T extends PoolOrSubnet>(options: RuleOptions, rules: PoolOrSubnetRules<T>): AdmissionHandler =>
  async (request, cluster) => {
    const ref = objectRef(rules.kind, request);
    const stored = request.oldObject as T | undefined;
    const terminating = terminatingUpdate(ref, request);
    if (terminating) return terminating;
    if (request.operation === 'DELETE') return rules.validateDelete(ref, stored, cluster);
    const object = request.object as T;
    const updated = request.operation === 'UPDATE' ? stored : undefined;
    const problems: string[] = [];
    if (updated) checkImmutableSubnet(updated.spec, object.spec, problems);
    const checked = checkPoolSpec(object.spec, options, problems);
    rules.checkObject?.(object, problems);
    if (!checked || problems.length > 0) return decide(ref, problems);
    const [pools, subnets] = await Promise.all([cluster.listIPPools(), cluster.listSubnets()]);
    const peers = { pools, subnets };
    rules.checkPeers(object, checked, request.operation === 'CREATE', peers, problems);
    if (problems.length > 0) return decide(ref, problems);
    rules.checkHeld(object, checked, updated, peers, problems);
    return decide(ref, problems, FORBIDDEN);
  };
