// The network configuration on stdin: the whole conflist entry, of which this plugin reads
// `cniVersion`, the `ipam` block (keys as in Spiderpool's ipam config) and `prevResult`.
import { CNI_ERROR, DEFAULT_AGENT_SOCKET } from '../../lib/agent-api.ts';
import { CniError, invalidConfig } from './errors.ts';

export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0'] as const;
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];
export const LATEST_VERSION: CniVersion = '1.0.0';

export const LOG_LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface IpamConf {
  socketPath: string;
  defaultIPv4IPPool?: string[];
  defaultIPv6IPPool?: string[];
  cleanGateway: boolean;
  matchMasterSubnet: boolean;
  logFilePath?: string;
  logLevel: LogLevel;
}

export interface NetConf { cniVersion: CniVersion; ipam: IpamConf; prevResult?: unknown }

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export const isSupported = (v: unknown): v is CniVersion => (SUPPORTED_VERSIONS as readonly unknown[]).includes(v);

/** JSON object on stdin, else code 6. */
export function decodeStdin(text: string): Json {
  if (text.trim() === '') throw new CniError(CNI_ERROR.decodeFailure, 'network configuration on stdin is empty');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new CniError(CNI_ERROR.decodeFailure, `network configuration on stdin is not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(value)) throw new CniError(CNI_ERROR.decodeFailure, 'network configuration on stdin must be a JSON object');
  return value;
}

/** The version to stamp on an error: the request's own when we speak it, so the caller can parse it. */
export function versionForErrors(stdin: string): CniVersion {
  try {
    const raw: unknown = JSON.parse(stdin);
    if (isObject(raw) && isSupported(raw.cniVersion)) return raw.cniVersion;
  } catch {
    // an undecodable request gets the latest version
  }
  return LATEST_VERSION;
}

export function parseNetConf(raw: Json): NetConf {
  return { cniVersion: parseVersion(raw.cniVersion), ipam: parseIpam(raw.ipam), prevResult: raw.prevResult };
}

function parseVersion(v: unknown): CniVersion {
  const supported = SUPPORTED_VERSIONS.join(', ');
  // libcni reads a missing cniVersion as 0.1.0, which is not supported either.
  if (v === undefined) throw new CniError(CNI_ERROR.incompatibleVersion, `network config has no cniVersion (read as 0.1.0); this plugin supports ${supported}`);
  if (typeof v !== 'string') throw new CniError(CNI_ERROR.decodeFailure, `network config field "cniVersion" must be a string, got ${JSON.stringify(v)}`);
  if (!isSupported(v)) throw new CniError(CNI_ERROR.incompatibleVersion, `unsupported cniVersion "${v}"; this plugin supports ${supported}`);
  return v;
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isBoolean = (v: unknown): v is boolean => typeof v === 'boolean';
const isNameList = (v: unknown): v is string[] => Array.isArray(v) && v.every((name) => typeof name === 'string' && name !== '');

function parseIpam(ipam: unknown): IpamConf {
  if (!isObject(ipam)) throw invalidConfig('network config field "ipam" must be an object');
  const logLevel = optional(ipam, 'log_level', 'a string', isString) ?? 'INFO';
  const level = logLevel.toUpperCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw invalidConfig(`ipam config field "log_level" must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  }
  return {
    // Spiderpool treats an empty path like an absent one.
    socketPath: optional(ipam, 'ipam_unix_socket_path', 'a string', isString) || DEFAULT_AGENT_SOCKET,
    defaultIPv4IPPool: optional(ipam, 'default_ipv4_ippool', 'an array of pool names', isNameList),
    defaultIPv6IPPool: optional(ipam, 'default_ipv6_ippool', 'an array of pool names', isNameList),
    cleanGateway: optional(ipam, 'clean_gateway', 'a boolean', isBoolean) ?? false,
    matchMasterSubnet: optional(ipam, 'match_master_subnet', 'a boolean', isBoolean) ?? false,
    logFilePath: optional(ipam, 'log_file_path', 'a string', isString) || undefined,
    logLevel: level as LogLevel,
  };
}

function optional<T>(ipam: Json, key: string, what: string, valid: (v: unknown) => v is T): T | undefined {
  const v = ipam[key];
  if (v === undefined || v === null) return undefined;
  if (!valid(v)) throw invalidConfig(`ipam config field "${key}" must be ${what}, got ${JSON.stringify(v)}`);
  return v;
}
