// The CNI error object. libcni reads it from stdout when the plugin exits non-zero, so every failure
// path ends here and nothing else is ever printed.
import { CNI_ERROR } from '../../lib/agent-api.ts';

/** libcni's `types.ErrInternal`: a bug in the plugin rather than bad input or an agent failure. */
const CNI_INTERNAL = 999;

export class CniError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly details = '',
  ) {
    super(message);
  }
}

export interface CniErrorOutput {
  cniVersion: string;
  code: number;
  msg: string;
  details: string;
}

export function errorOutput(cniVersion: string, err: unknown): CniErrorOutput {
  if (err instanceof CniError) return { cniVersion, code: err.code, msg: err.message, details: err.details };
  const text = err instanceof Error ? err.message : String(err);
  return { cniVersion, code: CNI_INTERNAL, msg: `internal error in the plugin: ${text}`, details: '' };
}

/**
 * A config value for an error message: short, and never a crash, since JSON.stringify overflows the
 * stack on the deeply nested values a hostile config may hold.
 */
export function describeValue(v: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(v) ?? String(v);
  } catch {
    return `a deeply nested ${Array.isArray(v) ? 'array' : typeof v}`;
  }
  return text.length > 100 ? `${text.slice(0, 100)}…` : text;
}

export const invalidEnv = (message: string, details = ''): CniError =>
  new CniError(CNI_ERROR.invalidEnvironment, message, details);
export const invalidConfig = (message: string, details = ''): CniError =>
  new CniError(CNI_ERROR.invalidNetworkConfig, message, details);
