// The network configuration on stdin: the whole conflist entry, of which this plugin reads
// `cniVersion`, the `ipam` block (keys as in Spiderpool's ipam config) and `prevResult`.
import { DEFAULT_AGENT_SOCKET } from '../../lib/agent-api.ts';
import { describeValue, invalidConfig } from '../skel/errors.ts';
import { confinedPath, LOG_DIR, SOCKET_DIR } from '../skel/paths.ts';
import { isObject, LOG_LEVELS, parseVersion, type CniVersion, type Json, type LogLevel } from '../skel/netconf.ts';

export interface IpamConf {
  socketPath: string;
  defaultIPv4IPPool?: string[];
  defaultIPv6IPPool?: string[];
  cleanGateway: boolean;
  matchMasterSubnet: boolean;
  logFilePath?: string;
  logLevel: LogLevel;
}

export interface NetConf {
  cniVersion: CniVersion;
  ipam: IpamConf;
  prevResult?: unknown;
}

export function parseNetConf(raw: Json): NetConf {
  return { cniVersion: parseVersion(raw.cniVersion), ipam: parseIpam(raw.ipam), prevResult: raw.prevResult };
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isBoolean = (v: unknown): v is boolean => typeof v === 'boolean';
const isNameList = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every((name) => typeof name === 'string' && name !== '');

function parseIpam(ipam: unknown): IpamConf {
  if (!isObject(ipam)) throw invalidConfig('network config field "ipam" must be an object');
  const logLevel = optional(ipam, 'log_level', 'a string', isString) ?? 'INFO';
  const level = logLevel.toUpperCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw invalidConfig(`ipam config field "log_level" must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  }
  return {
    // Spiderpool treats an empty path like an absent one.
    socketPath: confinedPath(
      optional(ipam, 'ipam_unix_socket_path', 'a string', isString) || DEFAULT_AGENT_SOCKET,
      'ipam config field "ipam_unix_socket_path"',
      SOCKET_DIR,
    ),
    defaultIPv4IPPool: optional(ipam, 'default_ipv4_ippool', 'an array of pool names', isNameList),
    defaultIPv6IPPool: optional(ipam, 'default_ipv6_ippool', 'an array of pool names', isNameList),
    cleanGateway: optional(ipam, 'clean_gateway', 'a boolean', isBoolean) ?? false,
    matchMasterSubnet: optional(ipam, 'match_master_subnet', 'a boolean', isBoolean) ?? false,
    logFilePath: logPath(optional(ipam, 'log_file_path', 'a string', isString)),
    logLevel: level as LogLevel,
  };
}

const logPath = (path: string | undefined): string | undefined =>
  path ? confinedPath(path, 'ipam config field "log_file_path"', LOG_DIR) : undefined;

function optional<T>(ipam: Json, key: string, what: string, valid: (v: unknown) => v is T): T | undefined {
  const v = ipam[key];
  if (v === undefined || v === null) return undefined;
  if (!valid(v)) throw invalidConfig(`ipam config field "${key}" must be ${what}, got ${describeValue(v)}`);
  return v;
}
