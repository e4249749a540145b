// The spec fields SpiderIPPool and SpiderSubnet share (subnet, ipVersion, ips, excludeIPs, gateway,
// routes): their defaulting and the rules that need nothing but the object itself.
import type { Route, SpiderIPPoolSpec, SpiderSubnetSpec } from '../../api/v2beta1/types.ts';
import { type CIDR, type IPSet, cidrToLabelValue, parseCIDR, parseIP } from '../../lib/ip/index.ts';
import { show } from './decision.ts';
import { isLabelValue } from './names.ts';
import type { RuleOptions } from './options.ts';
import { type RangeItem, checkNoSelfOverlap, checkRanges, mergeRanges, union } from './ranges.ts';

export type PoolSpecFields = Pick<
  SpiderIPPoolSpec & SpiderSubnetSpec,
  'ipVersion' | 'subnet' | 'ips' | 'excludeIPs' | 'gateway' | 'routes'
>;

export interface CheckedPoolSpec {
  cidr: CIDR;
  ips: IPSet;
  /** `ips − excludeIPs`: the addresses the object hands out. */
  effective: IPSet;
  ipItems: RangeItem[];
}

const reason = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Canonical form of a subnet string, or undefined when it does not parse. */
export function canonicalSubnet(subnet: string): string | undefined {
  try {
    return parseCIDR(subnet).canonical;
  } catch {
    return undefined;
  }
}

/** The label value for a canonical subnet; undefined when the encoding is not a valid label value (e.g. `::/0`). */
export function cidrLabelValue(subnet: string): string | undefined {
  if (canonicalSubnet(subnet) !== subnet) return undefined;
  const value = cidrToLabelValue(subnet);
  return isLabelValue(value) ? value : undefined;
}

/** Derives ipVersion from the subnet and merges both range lists; leaves anything unparsable for validation to name. */
export function defaultPoolSpec(spec: PoolSpecFields): void {
  if (spec.ipVersion === undefined) {
    try {
      spec.ipVersion = parseCIDR(spec.subnet).family;
    } catch {
      // validation names the bad subnet
    }
  }
  const ips = mergeRanges(spec.ips);
  if (ips) spec.ips = ips;
  const excludeIPs = mergeRanges(spec.excludeIPs);
  if (excludeIPs) spec.excludeIPs = excludeIPs;
}

/**
 * Rules of docs/admission.md#pool-and-subnet-spec-rules on the object alone. Undefined when a problem was found, so
 * that callers skip the checks against other objects.
 */
export function checkPoolSpec(
  spec: PoolSpecFields,
  options: RuleOptions,
  problems: string[],
): CheckedPoolSpec | undefined {
  const before = problems.length;
  let cidr: CIDR;
  try {
    cidr = parseCIDR(spec.subnet);
  } catch (err) {
    problems.push(`spec.subnet: ${reason(err)}`);
    return undefined;
  }
  const family = cidr.family;
  if (cidr.prefix === 0)
    problems.push(
      `spec.subnet ${cidr.canonical} covers every IPv${family} address: give the network the addresses are in`,
    );
  if (!cidr.isCanonical)
    problems.push(`spec.subnet ${show(spec.subnet)} is not in canonical form, use ${show(cidr.canonical)}`);
  if (spec.ipVersion === undefined)
    problems.push('spec.ipVersion is not set and could not be derived from spec.subnet');
  else if (spec.ipVersion !== family)
    problems.push(
      `spec.ipVersion ${spec.ipVersion} does not match spec.subnet ${cidr.canonical}, which is IPv${family}`,
    );
  if (!(family === 4 ? options.enableIPv4 : options.enableIPv6))
    problems.push(`spec.subnet ${cidr.canonical}: IPv${family} is disabled (enableIPv${family} is false)`);

  const within = { cidr, field: 'spec.subnet' };
  const ipItems = checkRanges('spec.ips', spec.ips, family, problems, within);
  checkNoSelfOverlap('spec.ips', ipItems, problems);
  const excludeItems = checkRanges('spec.excludeIPs', spec.excludeIPs, family, problems, within);
  const ips = union(ipItems, family);
  const exclude = union(excludeItems, family);

  if (spec.gateway !== undefined) checkGateway(spec.gateway, cidr, ipItems, exclude, problems);
  checkRoutes(spec.routes ?? [], cidr, problems);
  if (problems.length > before) return undefined;
  return { cidr, ips, effective: ips.subtract(exclude), ipItems };
}

function checkGateway(gateway: string, cidr: CIDR, ipItems: RangeItem[], exclude: IPSet, problems: string[]): void {
  let gw;
  try {
    gw = parseIP(gateway);
  } catch (err) {
    problems.push(`spec.gateway: ${reason(err)}`);
    return;
  }
  if (gw.family !== cidr.family || gw.value < cidr.start || gw.value > cidr.end) {
    problems.push(`spec.gateway ${show(gateway)} is outside spec.subnet ${cidr.canonical}`);
    return;
  }
  const holder = ipItems.find((i) => i.set.contains(gw.value));
  if (holder && !exclude.contains(gw.value)) {
    problems.push(
      `spec.ips[${holder.index}] ${show(holder.text)} contains spec.gateway ${gateway}, which must never be handed out: add it to spec.excludeIPs or remove it from spec.ips`,
    );
  }
}

function checkRoutes(routes: Route[], cidr: CIDR, problems: string[]): void {
  const seen = new Map<string, number>();
  routes.forEach((route, i) => {
    const at = `spec.routes[${i}]`;
    try {
      const dst = parseCIDR(route.dst);
      if (dst.family !== cidr.family)
        problems.push(
          `${at}.dst ${show(route.dst)} is IPv${dst.family}, but spec.subnet ${cidr.canonical} is IPv${cidr.family}`,
        );
      else if (dst.prefix === 0)
        problems.push(`${at}.dst ${show(route.dst)} is the default route: set spec.gateway instead`);
      else if (seen.has(dst.canonical))
        problems.push(`${at}.dst ${show(route.dst)} duplicates spec.routes[${seen.get(dst.canonical)}].dst`);
      else seen.set(dst.canonical, i);
    } catch (err) {
      problems.push(`${at}.dst: ${reason(err)}`);
    }
    try {
      const gw = parseIP(route.gw);
      if (gw.family !== cidr.family || gw.value < cidr.start || gw.value > cidr.end)
        problems.push(`${at}.gw ${show(route.gw)} is outside spec.subnet ${cidr.canonical}`);
    } catch (err) {
      problems.push(`${at}.gw: ${reason(err)}`);
    }
  });
}

export function checkImmutable(field: string, before: unknown, after: unknown, problems: string[]): void {
  if (before !== undefined && before !== after)
    problems.push(`${field} cannot be changed (from ${show(before)} to ${show(after)})`);
}

/**
 * A pool's or subnet's `subnet` and `ipVersion` never change once it exists
 * (docs/admission.md#pool-and-subnet-spec-rules).
 */
export function checkImmutableSubnet(before: PoolSpecFields, after: PoolSpecFields, problems: string[]): void {
  checkImmutable('spec.subnet', before.subnet, after.subnet, problems);
  checkImmutable('spec.ipVersion', before.ipVersion, after.ipVersion, problems);
}
