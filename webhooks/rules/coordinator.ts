// SpiderCoordinator admission (docs/admission.md#spidercoordinator), and the CoordinatorSpec rules SpiderMultusConfig
// reuses for its `spec.coordinator` block (docs/admission.md#coordinator-spec-rules).
import type { CoordinatorSpec, SpiderCoordinator } from '../../api/v2beta1/types.ts';
import { FINALIZER } from '../../api/v2beta1/constants.ts';
import { KINDS } from '../../api/v2beta1/kinds.ts';
import { interfaceNameProblem } from '../../ipam/selection/names.ts';
import { type Family, formatIP, parseCIDR, parseIP } from '../../lib/ip/index.ts';
import type { AdmissionHandler } from '../types.ts';
import { ALLOWED, decide, isTerminating, objectRef, show, terminatingUpdate } from './decision.ts';
import { addFinalizer, mutation } from './patch.ts';

const KIND = KINDS.SpiderCoordinator.kind;
const POD_CIDR_TYPES = ['auto', 'cluster', 'calico', 'cilium', 'none'];
const MODES = ['auto', 'underlay', 'overlay', 'disabled'];
// 253 default, 254 main, 255 local: taking one over would break the host's own routing.
const RESERVED_TABLES = [253, 254, 255];
const MAX_TABLE = 2 ** 32 - 1;

/** "IP" or "IP/len" to the network in CIDR form; undefined when it is neither. */
function toCIDR(text: string): { canonical: string; family: Family } | undefined {
  try {
    if (!text.includes('/')) {
      const ip = parseIP(text);
      return { canonical: `${formatIP(ip.value, ip.family)}/${ip.family === 4 ? 32 : 128}`, family: ip.family };
    }
    const cidr = parseCIDR(text);
    return { canonical: cidr.canonical, family: cidr.family };
  } catch {
    return undefined;
  }
}

/**
 * Bare IPs in hijackCIDR and policyRoutes[].dst become /32 or /128 networks; anything unparsable is left for
 * validation.
 */
export function normalizeCoordinator(spec: CoordinatorSpec): void {
  if (spec.hijackCIDR) spec.hijackCIDR = spec.hijackCIDR.map((c) => toCIDR(c)?.canonical ?? c);
  if (spec.policyRoutes)
    spec.policyRoutes = spec.policyRoutes.map((r) => ({ ...r, dst: toCIDR(r.dst)?.canonical ?? r.dst }));
}

/** Rules of ValidateCoordinatorSpec; `field` is the path of the spec (`spec` or `spec.coordinator`). */
export function checkCoordinatorSpec(
  field: string,
  spec: CoordinatorSpec,
  requirePodCIDRType: boolean,
  problems: string[],
): void {
  if (spec.podCIDRType === undefined) {
    if (requirePodCIDRType) problems.push(`${field}.podCIDRType is required: one of ${POD_CIDR_TYPES.join(', ')}`);
  } else if (!POD_CIDR_TYPES.includes(spec.podCIDRType)) {
    problems.push(`${field}.podCIDRType ${show(spec.podCIDRType)} is not one of ${POD_CIDR_TYPES.join(', ')}`);
  }
  if (spec.mode !== undefined && !MODES.includes(spec.mode))
    problems.push(`${field}.mode ${show(spec.mode)} is not one of ${MODES.join(', ')}`);
  (spec.hijackCIDR ?? []).forEach((c, i) => {
    if (!toCIDR(c)) problems.push(`${field}.hijackCIDR[${i}] ${show(c)} is neither an IP address nor a CIDR`);
  });
  (spec.policyRoutes ?? []).forEach((route, i) => {
    const at = `${field}.policyRoutes[${i}]`;
    const dst = toCIDR(route.dst);
    let gw: Family | undefined;
    try {
      gw = parseIP(route.gw).family;
    } catch {
      problems.push(`${at}.gw ${show(route.gw)} is not a valid IP address`);
    }
    if (!dst) problems.push(`${at}.dst ${show(route.dst)} is neither an IP address nor a CIDR`);
    else if (gw !== undefined && gw !== dst.family)
      problems.push(`${at}: dst ${show(route.dst)} and gw ${show(route.gw)} must use the same IP family`);
  });
  const prefix = spec.podMACPrefix;
  if (prefix) {
    if (!/^[0-9a-fA-F]{2}:[0-9a-fA-F]{2}$/.test(prefix))
      problems.push(
        `${field}.podMACPrefix ${show(prefix)} is not a valid MAC prefix: expected two hex bytes, e.g. "0a:1b"`,
      );
    else if (parseInt(prefix.slice(0, 2), 16) % 2 === 1)
      problems.push(
        `${field}.podMACPrefix ${show(prefix)} is not a unicast MAC: the lowest bit of the first byte must be 0`,
      );
  }
  if (spec.txQueueLen !== undefined && spec.txQueueLen < 0)
    problems.push(`${field}.txQueueLen ${spec.txQueueLen} must not be negative`);
  if (spec.podRPFilter !== undefined && spec.podRPFilter > 2)
    problems.push(`${field}.podRPFilter ${spec.podRPFilter} must be 0, 1 or 2 (or negative to leave it untouched)`);
  if (spec.vethLinkAddress) {
    try {
      parseIP(spec.vethLinkAddress);
    } catch {
      problems.push(`${field}.vethLinkAddress ${show(spec.vethLinkAddress)} is not a valid IP address`);
    }
  }
  if (spec.vethMTU !== undefined && spec.vethMTU <= 0)
    problems.push(`${field}.vethMTU ${spec.vethMTU} must be positive`);
  const table = spec.hostRuleTable;
  if (table !== undefined && (table <= 0 || table > MAX_TABLE || RESERVED_TABLES.includes(table))) {
    problems.push(
      `${field}.hostRuleTable ${table} is not usable: it must be between 1 and ${MAX_TABLE} and not one of the kernel's tables ${RESERVED_TABLES.join(', ')}`,
    );
  }
  if (spec.podDefaultRouteNIC) {
    const problem = interfaceNameProblem(spec.podDefaultRouteNIC);
    if (problem) problems.push(`${field}.podDefaultRouteNIC ${show(spec.podDefaultRouteNIC)} ${problem}`);
  }
}

// Spiderpool also defaults vethLinkAddress to ""; absent means the same, and see patch.ts on empty strings.
const DEFAULTS: CoordinatorSpec = {
  mode: 'auto',
  tunePodRoutes: true,
  hostRuleTable: 500,
  podRPFilter: 0,
  txQueueLen: 0,
  vethMTU: 1500,
};

export const mutateCoordinator = (): AdmissionHandler => async (request) => {
  const coordinator = request.object as SpiderCoordinator | undefined;
  if (!coordinator || isTerminating(coordinator)) return ALLOWED;
  return mutation(coordinator, (copy) => {
    copy.spec = { ...DEFAULTS, ...copy.spec };
    normalizeCoordinator(copy.spec);
    addFinalizer(copy, FINALIZER);
  });
};

export const validateCoordinator = (): AdmissionHandler => async (request) => {
  const ref = objectRef(KIND, request);
  const terminating = terminatingUpdate(ref, request);
  if (terminating) return terminating;
  const coordinator = request.object as SpiderCoordinator;
  const problems: string[] = [];
  checkCoordinatorSpec('spec', coordinator.spec ?? {}, true, problems);
  return decide(ref, problems);
};
