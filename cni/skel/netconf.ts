// What every plugin reads the same way from the network configuration on stdin: the JSON object
// itself and its `cniVersion`. The plugin-specific keys are each plugin's own netconf.
import { CNI_ERROR } from '../../lib/agent-api.ts';
import { CniError, describeValue } from './errors.ts';

export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0'] as const;
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];
export const LATEST_VERSION: CniVersion = '1.0.0';

export const LOG_LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type Json = Record<string, unknown>;

export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

const isSupported = (v: unknown): v is CniVersion => (SUPPORTED_VERSIONS as readonly unknown[]).includes(v);

/** JSON object on stdin, else code 6. */
export function decodeStdin(text: string): Json {
  if (text.trim() === '') throw new CniError(CNI_ERROR.decodeFailure, 'network configuration on stdin is empty');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new CniError(
      CNI_ERROR.decodeFailure,
      `network configuration on stdin is not valid JSON: ${(err as Error).message}`,
    );
  }
  if (!isObject(value))
    throw new CniError(CNI_ERROR.decodeFailure, 'network configuration on stdin must be a JSON object');
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

/** The `cniVersion` of a decoded config, refused with libcni's codes unless this toolkit speaks it. */
export function parseVersion(v: unknown): CniVersion {
  const supported = SUPPORTED_VERSIONS.join(', ');
  // libcni reads a missing cniVersion as 0.1.0, which is not supported either.
  if (v === undefined)
    throw new CniError(
      CNI_ERROR.incompatibleVersion,
      `network config has no cniVersion (read as 0.1.0); this plugin supports ${supported}`,
    );
  if (typeof v !== 'string')
    throw new CniError(
      CNI_ERROR.decodeFailure,
      `network config field "cniVersion" must be a string, got ${describeValue(v)}`,
    );
  if (!isSupported(v))
    throw new CniError(
      CNI_ERROR.incompatibleVersion,
      `unsupported cniVersion "${v}"; this plugin supports ${supported}`,
    );
  return v;
}
