// Turns the agent's allocation (every NIC of the pod) into the abbreviated IPAM result for the one
// interface being configured, in the shape of the requested CNI version.
import {
  AGENT_PATHS,
  CNI_ERROR,
  type IpamAddResponse,
  type IpamDns,
  type IpamRoute,
  type IpConfig,
} from '../../lib/agent-api.ts';
import { malformed } from '../skel/agent-client.ts';
import { CniError } from '../skel/errors.ts';
import type { CniVersion } from '../skel/netconf.ts';

export interface ResultIp {
  version?: '4' | '6';
  address: string;
  gateway?: string;
}
export interface ResultRoute {
  dst: string;
  gw?: string;
}
export interface IpamResult {
  cniVersion: CniVersion;
  ips: ResultIp[];
  routes: ResultRoute[];
  dns: IpamDns;
}

const DEFAULT_DST = { 4: '0.0.0.0/0', 6: '::/0' } as const;
const WHAT = `POST ${AGENT_PATHS.ip}`;

export function buildIpamResult(
  cniVersion: CniVersion,
  ifName: string,
  answer: IpamAddResponse,
  cleanGateway: boolean,
): IpamResult {
  const ips = answer.ips.filter((ip) => ip.nic === ifName);
  if (ips.length === 0) {
    const nics = [...new Set(answer.ips.map((ip) => ip.nic))].join(', ') || 'none';
    throw new CniError(
      CNI_ERROR.agentInternal,
      `no Interface ${ifName} IP allocation found in the spiderpool-agent answer (interfaces allocated: ${nics})`,
    );
  }
  // The agent adds the default routes itself, since only it knows a NIC's `cleangateway` annotation;
  // clean_gateway in this config still wins over whatever it sends.
  const routes: ResultRoute[] = answer.routes
    .filter((r) => r.ifName === ifName && !(cleanGateway && Object.values(DEFAULT_DST).includes(r.dst as never)))
    .map(toRoute);
  // 0.3.x and 0.4.0 results carry the family as a string; 1.0.0 dropped the field.
  const withVersion = cniVersion !== '1.0.0';
  return {
    cniVersion,
    ips: ips.map((ip) => ({
      ...(withVersion ? { version: String(ip.version) as '4' | '6' } : {}),
      address: ip.address,
      ...(ip.gateway ? { gateway: ip.gateway } : {}),
    })),
    routes,
    dns: dnsOf(answer.dns),
  };
}

const toRoute = (r: IpamRoute): ResultRoute => (r.gw ? { dst: r.dst, gw: r.gw } : { dst: r.dst });

function dnsOf(dns: IpamDns | undefined): IpamDns {
  const out: IpamDns = {};
  if (dns?.nameservers?.length) out.nameservers = dns.nameservers;
  if (dns?.domain) out.domain = dns.domain;
  if (dns?.search?.length) out.search = dns.search;
  if (dns?.options?.length) out.options = dns.options;
  return out;
}

/** Checks the 2xx body of POST /v1/ipam/ip against IpamAddResponse before anything relies on it. */
export function parseAddResponse(body: unknown): IpamAddResponse {
  if (typeof body !== 'object' || body === null) throw malformed(WHAT, 'not a JSON object');
  const { ips, routes, dns } = body as Partial<Record<keyof IpamAddResponse, unknown>>;
  if (!Array.isArray(ips)) throw malformed(WHAT, '"ips" is not an array');
  if (routes !== undefined && routes !== null && !Array.isArray(routes))
    throw malformed(WHAT, '"routes" is not an array');
  ips.forEach((ip, i) => checkIp(ip, i));
  const routeList = (routes ?? []) as unknown[];
  routeList.forEach((r, i) => checkRoute(r, i));
  return {
    ips: ips as IpConfig[],
    routes: routeList as IpamRoute[],
    dns: typeof dns === 'object' && dns !== null ? (dns as IpamDns) : {},
  };
}

function checkIp(ip: unknown, i: number): void {
  const v = (ip ?? {}) as Partial<Record<keyof IpConfig, unknown>>;
  if (typeof v.nic !== 'string') throw malformed(WHAT, `ips[${i}].nic is not a string`);
  if (v.version !== 4 && v.version !== 6)
    throw malformed(WHAT, `ips[${i}].version is ${JSON.stringify(v.version)}, expected 4 or 6`);
  if (typeof v.address !== 'string' || !/^[0-9a-fA-F.:]+\/\d{1,3}$/.test(v.address)) {
    throw malformed(WHAT, `ips[${i}].address ${JSON.stringify(v.address)} is not in CIDR form`);
  }
  if (v.address.includes(':') !== (v.version === 6))
    throw malformed(WHAT, `ips[${i}].address ${v.address} is not an IPv${v.version} address`);
  if (v.gateway !== undefined && typeof v.gateway !== 'string')
    throw malformed(WHAT, `ips[${i}].gateway is not a string`);
}

function checkRoute(r: unknown, i: number): void {
  const v = (r ?? {}) as Partial<Record<keyof IpamRoute, unknown>>;
  if (typeof v.ifName !== 'string' || typeof v.dst !== 'string')
    throw malformed(WHAT, `routes[${i}] lacks ifName or dst`);
  if (v.gw !== undefined && typeof v.gw !== 'string') throw malformed(WHAT, `routes[${i}].gw is not a string`);
}
