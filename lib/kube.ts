// Small helpers around @kubernetes/client-node 1.x shared by every component.
import { ApiException, KubeConfig } from '@kubernetes/client-node';

/** Loads the kubeconfig from a path, $KUBECONFIG, or the in-cluster service account. */
export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}

export const statusCode = (err: unknown): number | undefined => (err instanceof ApiException ? err.code : (err as { code?: unknown })?.code as number | undefined);
export const isConflict = (err: unknown): boolean => statusCode(err) === 409;
export const isNotFound = (err: unknown): boolean => statusCode(err) === 404;
export const isAlreadyExists = (err: unknown): boolean => statusCode(err) === 409;

/** The apiserver's own message for a failed call (ApiException.body is the raw Status JSON). */
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
