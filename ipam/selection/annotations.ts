// The IPAM annotations users put on pods and namespaces (docs/api.md#pod-and-namespace-annotations), parsed and
// validated in one place so the agent and the admission webhook accept and refuse exactly the same values.
import type { V1Namespace } from '@kubernetes/client-node';
import type { Route } from '../../api/v2beta1/types.ts';
import { ANNOTATION } from '../../api/v2beta1/constants.ts';
import { parseCIDR, parseIP } from '../../lib/ip/index.ts';
import { wrongInput, type SelectionError } from './errors.ts';
import { interfaceNameProblem } from './names.ts';

/** Pool names or patterns per family, in the order written. */
export interface PoolNames {
  ipv4: string[];
  ipv6: string[];
}

export interface IPPoolsItem extends PoolNames {
  /** Absent on every item or on none. */
  interface?: string;
  cleanGateway: boolean;
}

/** One NIC of the subnet annotations. Only the first subnet of each family is ever used, so only it is kept. */
export interface SubnetItem {
  interface: string;
  ipv4?: string;
  ipv6?: string;
}

/** `N` is a fixed pool size; `+N` is the application's replicas plus N. */
export interface IPNumber {
  flexible: boolean;
  count: number;
}

export interface PodIPAMAnnotations {
  ippool?: PoolNames;
  ippools?: IPPoolsItem[];
  subnet?: SubnetItem;
  subnets?: SubnetItem[];
  routes?: Route[];
  defaultRouteNic?: string;
  ippoolIPNumber?: IPNumber;
  ippoolReclaim?: boolean;
}

type Annotations = Record<string, string> | undefined;
type JsonObject = Record<string, unknown>;

/** Parses every IPAM annotation present; throws WrongInput naming the first malformed one. */
export function parsePodIPAMAnnotations(annotations: Annotations): PodIPAMAnnotations {
  const result: PodIPAMAnnotations = {};
  const value = (key: string): string | undefined =>
    annotations && Object.hasOwn(annotations, key) ? annotations[key] : undefined;

  const ippool = value(ANNOTATION.ippool);
  if (ippool !== undefined) result.ippool = parseIPPool(ippool);
  const ippools = value(ANNOTATION.ippools);
  if (ippools !== undefined) result.ippools = parseIPPools(ippools);
  const subnet = value(ANNOTATION.subnet);
  if (subnet !== undefined) result.subnet = parseSubnet(subnet);
  const subnets = value(ANNOTATION.subnets);
  if (subnets !== undefined) result.subnets = parseSubnets(subnets);
  const routes = value(ANNOTATION.routes);
  if (routes !== undefined) result.routes = parseRoutes(routes);
  const nic = value(ANNOTATION.defaultRouteNic);
  if (nic !== undefined) {
    const problem = interfaceNameProblem(nic);
    if (problem) throw invalid(ANNOTATION.defaultRouteNic, `the interface name "${nic}" ${problem}`);
    result.defaultRouteNic = nic;
  }
  const ipNumber = value(ANNOTATION.ippoolIPNumber);
  if (ipNumber !== undefined) result.ippoolIPNumber = parseIPNumber(ipNumber);
  const reclaim = value(ANNOTATION.ippoolReclaim);
  if (reclaim !== undefined) result.ippoolReclaim = parseGoBool(ANNOTATION.ippoolReclaim, reclaim);
  return result;
}

/** The namespace's default pools (rule 4); both lists are empty when the namespace sets none. */
export function parseNamespaceDefaultPools(namespace: V1Namespace): PoolNames {
  const annotations = namespace.metadata?.annotations ?? {};
  const owner = `namespace ${namespace.metadata?.name ?? ''}`;
  const list = (key: string): string[] => {
    if (!Object.hasOwn(annotations, key)) return [];
    return names(key, 'the value', decodeJson(key, annotations[key] as string, owner), owner);
  };
  return { ipv4: list(ANNOTATION.namespaceDefaultIPv4), ipv6: list(ANNOTATION.namespaceDefaultIPv6) };
}

function parseIPPool(text: string): PoolNames {
  const key = ANNOTATION.ippool;
  const value = decodeJson(key, text);
  if (!isObject(value)) throw invalid(key, 'must be a JSON object like {"ipv4":["pool-a"],"ipv6":["pool-b"]}');
  return { ipv4: names(key, '"ipv4"', field(value, 'ipv4')), ipv6: names(key, '"ipv6"', field(value, 'ipv6')) };
}

function parseIPPools(text: string): IPPoolsItem[] {
  const key = ANNOTATION.ippools;
  const items = objectItems(key, text, '[{"interface":"eth0","ipv4":["pool-a"]}]', (raw, where): IPPoolsItem => {
    const nic = optionalInterface(key, where, field(raw, 'interface'));
    const cleanGateway = field(raw, 'cleangateway') ?? false;
    if (typeof cleanGateway !== 'boolean') throw invalid(key, `${where}: "cleangateway" must be true or false`);
    return {
      ...(nic === undefined ? {} : { interface: nic }),
      ipv4: names(key, `${where} "ipv4"`, field(raw, 'ipv4')),
      ipv6: names(key, `${where} "ipv6"`, field(raw, 'ipv6')),
      cleanGateway,
    };
  });
  const named = items.filter((item) => item.interface !== undefined).length;
  if (named !== 0 && named !== items.length) {
    throw invalid(
      key,
      '"interface" is set on some items but not on all; set it on every item, or on none to match items to NICs by position',
    );
  }
  const seen = new Set<string>();
  for (const item of items) {
    if (item.interface === undefined) continue;
    if (seen.has(item.interface)) throw invalid(key, `interface ${item.interface} is listed twice`);
    seen.add(item.interface);
  }
  return items;
}

function parseSubnet(text: string): SubnetItem {
  const key = ANNOTATION.subnet;
  const value = decodeJson(key, text);
  if (!isObject(value)) throw invalid(key, 'must be a JSON object like {"ipv4":["subnet-a"]}');
  // A single NIC without a name is the pod's first interface.
  return subnetItem(key, 'the value', value, optionalInterface(key, 'the value', field(value, 'interface')) ?? 'eth0');
}

function parseSubnets(text: string): SubnetItem[] {
  const key = ANNOTATION.subnets;
  const items = objectItems(key, text, '[{"interface":"eth0","ipv4":["subnet-a"]}]', (raw, where): SubnetItem => {
    const nic = optionalInterface(key, where, field(raw, 'interface'));
    if (nic === undefined) throw invalid(key, `${where} has no "interface"; every item must name its NIC`);
    return subnetItem(key, where, raw, nic);
  });
  const unique = (what: string, values: (string | undefined)[], hint: string): void => {
    const seen = new Set<string>();
    for (const v of values) {
      if (v === undefined) continue;
      if (seen.has(v)) throw invalid(key, `${what} ${v} is used by more than one item; ${hint}`);
      seen.add(v);
    }
  };
  unique(
    'interface',
    items.map((item) => item.interface),
    'list each NIC once',
  );
  unique(
    'IPv4 subnet',
    items.map((item) => item.ipv4),
    'each NIC needs its own subnet',
  );
  unique(
    'IPv6 subnet',
    items.map((item) => item.ipv6),
    'each NIC needs its own subnet',
  );
  return items;
}

function subnetItem(key: string, where: string, raw: JsonObject, nic: string): SubnetItem {
  const [ipv4] = names(key, `${where} "ipv4"`, field(raw, 'ipv4'));
  const [ipv6] = names(key, `${where} "ipv6"`, field(raw, 'ipv6'));
  if (ipv4 === undefined && ipv6 === undefined) throw invalid(key, `${where} names no IPv4 or IPv6 subnet`);
  return { interface: nic, ...(ipv4 === undefined ? {} : { ipv4 }), ...(ipv6 === undefined ? {} : { ipv6 }) };
}

function parseRoutes(text: string): Route[] {
  const key = ANNOTATION.routes;
  const value = decodeJson(key, text);
  if (!Array.isArray(value)) throw invalid(key, 'must be a JSON array like [{"dst":"10.0.0.0/16","gw":"192.168.1.1"}]');
  return value.map((raw: unknown, i): Route => {
    if (!isObject(raw)) throw invalid(key, `route ${i} must be a JSON object with "dst" and "gw"`);
    const dst = field(raw, 'dst');
    const gw = field(raw, 'gw');
    if (typeof dst !== 'string' || typeof gw !== 'string')
      throw invalid(key, `route ${i} needs "dst" and "gw" strings`);
    // The same parsers as the SpiderEndpoint's admission: a route it would refuse to record must fail here,
    // as WrongInput, rather than fail every retry of the ADD at the endpoint write.
    const dstFamily = cidrFamily(dst);
    if (dstFamily === 0) throw invalid(key, `route ${i}: dst "${dst}" is not a CIDR`);
    const gwFamily = ipFamily(gw);
    if (gwFamily === 0) throw invalid(key, `route ${i}: gw "${gw}" is not an IP address`);
    if (gwFamily !== dstFamily)
      throw invalid(key, `route ${i}: dst "${dst}" and gw "${gw}" are of different IP families`);
    return { dst, gw };
  });
}

function parseIPNumber(text: string): IPNumber {
  const key = ANNOTATION.ippoolIPNumber;
  const flexible = text.startsWith('+');
  const digits = flexible ? text.slice(1) : text;
  if (/^-\d+$/.test(digits))
    throw invalid(key, `"${text}" is negative; use "N" for a fixed size or "+N" for replicas plus N`);
  const count = Number(digits);
  if (!/^\d+$/.test(digits) || !Number.isSafeInteger(count)) {
    throw invalid(key, `"${text}" is neither "N" (a fixed number of IPs) nor "+N" (replicas plus N)`);
  }
  return { flexible, count };
}

// strconv.ParseBool, since users copy values that Spiderpool accepts.
const GO_TRUE = ['1', 't', 'T', 'TRUE', 'true', 'True'];
const GO_FALSE = ['0', 'f', 'F', 'FALSE', 'false', 'False'];

function parseGoBool(key: string, text: string): boolean {
  if (GO_TRUE.includes(text)) return true;
  if (GO_FALSE.includes(text)) return false;
  throw invalid(key, `"${text}" is not "true" or "false"`);
}

function names(key: string, where: string, value: unknown, owner?: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((v): v is string => typeof v === 'string')) {
    throw invalid(key, `${where} must be an array of names`, owner);
  }
  if (value.includes('')) throw invalid(key, `${where} contains an empty name`, owner);
  return value;
}

function optionalInterface(key: string, where: string, value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw invalid(key, `${where}: "interface" must be a string`);
  const problem = interfaceNameProblem(value);
  if (problem) throw invalid(key, `${where}: the interface name "${value}" ${problem}`);
  return value;
}

/** The items of an annotation that must be a non-empty JSON array of objects, each read where it stands. */
function objectItems<T>(key: string, text: string, example: string, item: (raw: JsonObject, where: string) => T): T[] {
  const value = decodeJson(key, text);
  if (!Array.isArray(value)) throw invalid(key, `must be a JSON array like ${example}`);
  if (value.length === 0) throw invalid(key, 'needs at least one item');
  return value.map((raw: unknown, i) => {
    if (!isObject(raw)) throw invalid(key, `item ${i} must be a JSON object`);
    return item(raw, `item ${i}`);
  });
}

function decodeJson(key: string, text: string, owner?: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw invalid(key, `not valid JSON (${(err as Error).message})`, owner);
  }
}

/**
 * A member of a decoded object. Go's encoding/json matches member names case-insensitively, so
 * `{"IPv4":[…]}` or `"cleanGateway"` work upstream and must work here too; an exact match wins.
 */
function field(obj: JsonObject, name: string): unknown {
  if (Object.hasOwn(obj, name)) return obj[name];
  const key = Object.keys(obj).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : obj[key];
}

const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function cidrFamily(text: string): number {
  try {
    return parseCIDR(text).family;
  } catch {
    return 0;
  }
}

function ipFamily(text: string): number {
  try {
    return parseIP(text).family;
  } catch {
    return 0;
  }
}

function invalid(key: string, what: string, owner?: string): SelectionError {
  return wrongInput(`annotation ${key}${owner ? ` of ${owner}` : ''} is invalid: ${what}`);
}
