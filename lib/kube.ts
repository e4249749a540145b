// Small helpers around @kubernetes/client-node 1.x shared by every component.
import { Agent } from 'node:https';
import { createSecureContext } from 'node:tls';
import { ApiException, KubeConfig, type RequestContext } from '@kubernetes/client-node';

/**
 * client-node 1.4 builds a new https.Agent for every request, so every call pays a TLS handshake on both
 * ends; under load that, not the apiserver's storage, limits the request rate. This KubeConfig hands every
 * request one keep-alive agent with one TLS context, rebuilt only when the TLS credentials change.
 */
class KeepAliveKubeConfig extends KubeConfig {
  private shared?: { agent: Agent; key: string };

  /** With a deadline, a request that brings no signal of its own is aborted after that long. */
  constructor(readonly requestTimeoutMs?: number) {
    super();
  }

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    if (this.requestTimeoutMs !== undefined && !context.getSignal())
      context.setSignal(AbortSignal.timeout(this.requestTimeoutMs));
    const fresh = context.getAgent();
    if (!(fresh instanceof Agent)) return;
    const { ca, cert, key, pfx, rejectUnauthorized } = fresh.options;
    const credentials = JSON.stringify(
      [ca, cert, key, pfx, rejectUnauthorized].map((v) => (v === undefined ? null : String(v))),
    );
    if (this.shared?.key !== credentials) {
      this.shared?.agent.destroy();
      // No socket cap: node-fetch 2 reports a false "Premature close" when a request waits for a busy
      // keep-alive socket (node-fetch#1767).
      // One TLS context for every connection: built per connection, parsing the CA and key cost the agent more
      // CPU in a burst than the requests themselves.
      const secureContext = createSecureContext({ ca, cert, key, pfx, passphrase: fresh.options.passphrase });
      this.shared = { agent: new Agent({ ...fresh.options, keepAlive: true, secureContext }), key: credentials };
    }
    context.setAgent(this.shared.agent);
  }
}

/**
 * Loads the kubeconfig from a path, $KUBECONFIG, or the in-cluster service account. `requestTimeoutMs` bounds
 * every request made through an API client (not watches, which last; lists bring their own deadline).
 */
export function loadKubeConfig(path?: string, options: { requestTimeoutMs?: number } = {}): KubeConfig {
  const kc = new KeepAliveKubeConfig(options.requestTimeoutMs);
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}

/** The deadline loadKubeConfig gave every request, if any. */
export const requestTimeoutOf = (kubeConfig: KubeConfig): number | undefined =>
  kubeConfig instanceof KeepAliveKubeConfig ? kubeConfig.requestTimeoutMs : undefined;

export const statusCode = (err: unknown): number | undefined =>
  err instanceof ApiException ? err.code : ((err as { code?: unknown })?.code as number | undefined);
export const isConflict = (err: unknown): boolean => statusCode(err) === 409;
export const isNotFound = (err: unknown): boolean => statusCode(err) === 404;
export const isAlreadyExists = (err: unknown): boolean => statusCode(err) === 409;

/** A request that got no answer within its deadline. */
export class RequestTimeout extends Error {
  override name = 'RequestTimeout';
}

/**
 * The request may have been applied although it failed: no answer in time, the connection lost (node-fetch's
 * AbortError and FetchError, or a system error code), or a 5xx. Such a failure is re-read before anything is
 * decided from it.
 */
export function outcomeUnknown(err: unknown): boolean {
  if (err instanceof ApiException) return err.code >= 500;
  const { name, code } = (err ?? {}) as { name?: unknown; code?: unknown };
  return ['RequestTimeout', 'AbortError', 'FetchError'].includes(String(name)) || typeof code === 'string';
}

/** The apiserver's own message for a failed call (ApiException.body is the raw Status JSON). */
/** The object, or undefined when the apiserver says it does not exist; every other failure is thrown. */
export async function orUndefined<T>(read: Promise<T>): Promise<T | undefined> {
  try {
    return await read;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export function apiMessage(err: unknown): string {
  if (err instanceof ApiException) {
    try {
      const status = JSON.parse(String(err.body)) as { message?: string };
      if (status.message) return status.message;
    } catch {
      // not a Status body: fall through to the exception text
    }
    return `HTTP ${err.code}`;
  }
  return err instanceof Error ? err.message : String(err);
}
