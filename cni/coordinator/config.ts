// The coordinator's own entry of the NAD chain, and its merge with the cluster defaults the agent serves
// from the SpiderCoordinator: a value present in the NAD wins, otherwise the cluster's is used.
import { isIP } from 'node:net';
import type { CoordinatorConfig } from '../../lib/agent-api.ts';
import { parseCIDR, type Family } from '../../lib/ip/index.ts';
import { describeValue, invalidConfig } from '../skel/errors.ts';
import { confinedPath, LOG_DIR, SOCKET_DIR } from '../skel/paths.ts';

export type Mode = 'auto' | 'underlay' | 'overlay' | 'disable';
export interface PolicyRoute {
  dst: string;
  gw: string;
  family: Family;
}

/** Keys the NAD may set; absent keys are undefined. */
export interface NadCoordinator {
  mode?: Mode;
  overlayPodCIDR?: string[];
  serviceCIDR?: string[];
  hijackCIDR?: string[];
  policyRoutes?: { dst: string; gw: string }[];
  podMACPrefix?: string;
  podDefaultCniNic?: string;
  podDefaultRouteNic?: string;
  tunePodRoutes?: boolean;
  hostRuleTable?: number;
  podRPFilter?: number;
  txQueueLen?: number;
  vethLinkAddress?: string;
  vethMTU?: number;
  detectIPConflict?: boolean;
  detectGateway?: boolean;
  logFile?: string;
  logLevel?: string;
  /** The agent's socket, `ipam_unix_socket_path` of the entry. */
  socketPath?: string;
}

export interface EffectiveConfig {
  mode: Mode;
  overlayPodCIDR: string[];
  serviceCIDR: string[];
  hijackCIDR: string[];
  policyRoutes: PolicyRoute[];
  podMACPrefix: string;
  podDefaultCniNic: string;
  podDefaultRouteNic: string;
  tunePodRoutes: boolean;
  hostRuleTable: number;
  podRPFilter: -1 | 0 | 1 | 2;
  txQueueLen: number;
  vethLinkAddress: string;
  vethMTU: number;
  detectIPConflict: boolean;
  detectGateway: boolean;
}

/** What applies when neither the NAD nor a SpiderCoordinator sets a value (the CRD's defaults). */
export const DEFAULTS = {
  podDefaultCniNic: 'eth0',
  hostRuleTable: 500,
  vethMTU: 1500,
  tunePodRoutes: true,
  podRPFilter: 0,
} as const;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads the plugin's keys from its NAD entry; wrong types are errors that name the field. */
export function parseNadCoordinator(raw: Json): NadCoordinator {
  const str = (key: string): string | undefined => typed(raw, key, 'a string', isString) || undefined;
  const num = (key: string): number | undefined =>
    typed(raw, key, 'an integer', (v): v is number => Number.isInteger(v));
  const list = (key: string): string[] | undefined =>
    typed(
      raw,
      key,
      'a list of strings',
      (v): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string'),
    );
  const bool = (key: string): boolean | undefined =>
    typed(raw, key, 'a boolean', (v): v is boolean => typeof v === 'boolean');
  const mode = str('mode');
  const logOptions = raw.logOptions === undefined || raw.logOptions === null ? {} : raw.logOptions;
  if (!isObject(logOptions))
    throw invalidConfig(
      `coordinator config field "logOptions" must be an object, got ${describeValue(raw.logOptions)}`,
    );
  const routes = typed(
    raw,
    'policyRoutes',
    'a list of {dst, gw}',
    (v): v is { dst: string; gw: string }[] =>
      Array.isArray(v) && v.every((r) => isObject(r) && typeof r.dst === 'string' && typeof r.gw === 'string'),
  );
  return {
    mode: mode === undefined ? undefined : parseMode(mode),
    overlayPodCIDR: list('overlayPodCIDR'),
    serviceCIDR: list('serviceCIDR'),
    hijackCIDR: list('hijackCIDR'),
    policyRoutes: routes,
    podMACPrefix: str('podMACPrefix'),
    podDefaultCniNic: str('podDefaultCniNic'),
    podDefaultRouteNic: str('podDefaultRouteNic'),
    tunePodRoutes: bool('tunePodRoutes'),
    detectIPConflict: bool('detectIPConflict'),
    detectGateway: bool('detectGateway'),
    hostRuleTable: num('hostRuleTable'),
    podRPFilter: num('podRPFilter'),
    txQueueLen: num('txQueueLen'),
    vethLinkAddress: str('vethLinkAddress'),
    vethMTU: num('vethMTU'),
    logFile: pathIn(LOG_DIR, 'logOptions.logFile', typed(logOptions, 'logFile', 'a string', isString)),
    logLevel: typed(logOptions, 'logLevel', 'a string', isString) || undefined,
    socketPath: pathIn(SOCKET_DIR, 'ipam_unix_socket_path', str('ipam_unix_socket_path')),
  };
}

const isString = (v: unknown): v is string => typeof v === 'string';

/** An empty path is an absent one, as in Spiderpool. */
const pathIn = (dir: string, key: string, path: string | undefined): string | undefined =>
  path ? confinedPath(path, `coordinator config field "${key}"`, dir) : undefined;

function typed<T>(raw: Json, key: string, what: string, valid: (v: unknown) => v is T): T | undefined {
  const v = raw[key];
  if (v === undefined || v === null) return undefined;
  if (!valid(v)) throw invalidConfig(`coordinator config field "${key}" must be ${what}, got ${describeValue(v)}`);
  return v;
}

/** The API spells the off mode `disabled` and Spiderpool's plugin `disable`: both are accepted. */
export function parseMode(mode: string): Mode {
  if (mode === 'disabled') return 'disable';
  if (mode === 'auto' || mode === 'underlay' || mode === 'overlay' || mode === 'disable') return mode;
  throw invalidConfig(
    `coordinator config field "mode": unknown mode "${mode}", expected auto, underlay, overlay or disable(d)`,
  );
}

const MAC_PREFIX = /^[a-fA-F0-9][a-fA-F,0,2-9][:-][a-fA-F0-9]{2}$/;

/**
 * NAD values win; lists come from the cluster only when the NAD's is empty. `cluster` is undefined when
 * the cluster has no SpiderCoordinator, and then the CRD defaults apply.
 */
export function mergeConfig(nad: NadCoordinator, cluster: CoordinatorConfig | undefined): EffectiveConfig {
  const pick = (own: string[] | undefined, theirs: string[] | undefined): string[] =>
    own?.length ? own : (theirs ?? []);
  const cidrs = (field: string, values: string[]): string[] => values.map((c) => normaliseCidr(c, field));
  const podMACPrefix = nad.podMACPrefix || cluster?.podMACPrefix || '';
  // Spiderpool's pattern lets odd first bytes other than x1 through; a multicast MAC would be refused by the kernel.
  if (podMACPrefix && (!MAC_PREFIX.test(podMACPrefix) || (parseInt(podMACPrefix.slice(0, 2), 16) & 1) === 1))
    throw invalidConfig(
      `coordinator config field "podMACPrefix": "${podMACPrefix}" is not a two-byte unicast MAC prefix like "0a:1b"`,
    );
  const podRPFilter = nad.podRPFilter ?? cluster?.podRPFilter ?? DEFAULTS.podRPFilter;
  if (![-1, 0, 1, 2].includes(podRPFilter))
    throw invalidConfig(`coordinator config field "podRPFilter" must be -1, 0, 1 or 2, got ${podRPFilter}`);
  const vethMTU =
    nad.vethMTU !== undefined && nad.vethMTU > 0
      ? nad.vethMTU
      : cluster?.vethMTU && cluster.vethMTU > 0
        ? cluster.vethMTU
        : DEFAULTS.vethMTU;
  const hostRuleTable = nad.hostRuleTable ?? cluster?.hostRuleTable ?? DEFAULTS.hostRuleTable;
  if (hostRuleTable <= 0)
    throw invalidConfig(
      `coordinator config field "hostRuleTable" must be a positive table number, got ${hostRuleTable}`,
    );
  const vethLinkAddress = nad.vethLinkAddress || cluster?.vethLinkAddress || '';
  if (vethLinkAddress && isIP(vethLinkAddress) === 0)
    throw invalidConfig(`coordinator config field "vethLinkAddress": "${vethLinkAddress}" is not an IP address`);
  return {
    mode: nad.mode ?? (cluster ? parseMode(cluster.mode) : 'auto'),
    overlayPodCIDR: cidrs('overlayPodCIDR', pick(nad.overlayPodCIDR, cluster?.overlayPodCIDR)),
    serviceCIDR: cidrs('serviceCIDR', pick(nad.serviceCIDR, cluster?.serviceCIDR)),
    hijackCIDR: cidrs('hijackCIDR', pick(nad.hijackCIDR, cluster?.hijackCIDR)),
    policyRoutes: (nad.policyRoutes?.length ? nad.policyRoutes : (cluster?.policyRoutes ?? [])).map(policyRoute),
    podMACPrefix,
    podDefaultCniNic: nad.podDefaultCniNic || DEFAULTS.podDefaultCniNic,
    podDefaultRouteNic: nad.podDefaultRouteNic || cluster?.podDefaultRouteNIC || '',
    tunePodRoutes: nad.tunePodRoutes ?? cluster?.tunePodRoutes ?? DEFAULTS.tunePodRoutes,
    hostRuleTable,
    podRPFilter: podRPFilter as EffectiveConfig['podRPFilter'],
    txQueueLen: nad.txQueueLen ?? cluster?.txQueueLen ?? 0,
    vethLinkAddress,
    vethMTU,
    detectIPConflict: !cluster?.migrationTarget && (nad.detectIPConflict ?? cluster?.detectIPConflict ?? false),
    detectGateway: nad.detectGateway ?? cluster?.detectGateway ?? false,
  };
}

/**
 * `a.b.c.d/n` with the host bits cleared (what iproute2 requires of a route destination); a bare IP is a host route.
 */
export function normaliseCidr(value: string, field: string): string {
  try {
    return parseCIDR(value.includes('/') ? value : `${value}/${value.includes(':') ? 128 : 32}`).canonical;
  } catch (err) {
    throw invalidConfig(`coordinator config field "${field}": ${(err as Error).message}`);
  }
}

export const familyOf = (address: string): Family => (address.includes(':') ? 6 : 4);

function policyRoute(route: { dst: string; gw: string }, i: number): PolicyRoute {
  const dst = normaliseCidr(route.dst, `policyRoutes[${i}].dst`);
  const family = familyOf(dst);
  if (isIP(route.gw) !== family)
    throw invalidConfig(
      `coordinator config field "policyRoutes[${i}].gw": "${route.gw}" is not an IPv${family} address like its dst ${dst}`,
    );
  return { dst, gw: route.gw, family };
}
