// Follows one named object. Every (re)connection starts without a resourceVersion, so the apiserver
// first sends the object as it is now; the callback therefore sees the current state after every gap
// and must be idempotent. Server-side timeouts and a client-side watchdog bound how long a silently
// dead connection can go unnoticed.
import { Watch, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../../lib/log.ts';

export type ObjectEvent<T> = { type: 'present'; object: T } | { type: 'deleted' };

export interface ObjectWatch {
  stop(): void;
}

const WATCH_SECONDS = 300;

/** `collectionPath` is the list URL (`/api/v1/namespaces/ns/secrets`), `name` the object in it. */
export function watchObject<T extends KubernetesObject>(kubeConfig: KubeConfig, collectionPath: string, name: string, onEvent: (event: ObjectEvent<T>) => void, log: Logger): ObjectWatch {
  const watch = new Watch(kubeConfig);
  let stopped = false;
  let abort: AbortController | undefined;
  let retry: ReturnType<typeof setTimeout> | undefined;
  let watchdog: ReturnType<typeof setTimeout> | undefined;
  let failures = 0;

  const deliver = (event: ObjectEvent<T>) => {
    try {
      onEvent(event);
    } catch (err) {
      log.error('object watch callback failed', { path: collectionPath, name, err: String(err) });
    }
  };

  const reconnect = (err: unknown) => {
    clearTimeout(watchdog);
    if (stopped) return;
    if (err && (err as Error).name !== 'AbortError') {
      failures++;
      log.warn('object watch ended with an error, reconnecting', { path: collectionPath, name, err: String(err) });
    } else {
      failures = 0;
    }
    retry = setTimeout(() => void connect(), Math.min(30_000, 200 * 2 ** Math.min(failures, 8)));
  };

  const connect = async () => {
    if (stopped) return;
    // The apiserver ends the watch after timeoutSeconds; a connection silent for longer is dead.
    watchdog = setTimeout(() => abort?.abort(), (WATCH_SECONDS + 30) * 1000);
    try {
      abort = await watch.watch(collectionPath, { fieldSelector: `metadata.name=${name}`, timeoutSeconds: WATCH_SECONDS, allowWatchBookmarks: true }, (type, object: T) => {
        if (type === 'ADDED' || type === 'MODIFIED') deliver({ type: 'present', object });
        else if (type === 'DELETED') deliver({ type: 'deleted' });
      }, reconnect);
      if (stopped) abort.abort();
    } catch (err) {
      reconnect(err);
    }
  };

  void connect();
  return {
    stop() {
      stopped = true;
      clearTimeout(retry);
      clearTimeout(watchdog);
      abort?.abort();
    },
  };
}
