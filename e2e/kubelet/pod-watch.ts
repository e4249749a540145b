// List-then-watch of the pods bound to one node, like a kubelet's pod source. Every (re)connect starts
// with a full list, so pods that disappeared while the watch was down are noticed; errors never end
// the loop, they only delay the next attempt (exponential back-off up to 30 s).
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, Watch, type KubeConfig, type V1Pod } from '@kubernetes/client-node';

export interface PodSourceHandlers {
  /** The complete set of pods bound to the node, after every (re)list. */
  resync(pods: V1Pod[]): void;
  /** One change. DELETED pods are gone from the apiserver. */
  change(type: 'ADDED' | 'MODIFIED' | 'DELETED', pod: V1Pod): void;
}

export interface PodSource {
  stop(): Promise<void>;
}

const MAX_BACKOFF_MS = 30_000;
const MIN_WATCH_MS = 1_000;

export function watchNodePods(
  kubeConfig: KubeConfig,
  node: string,
  handlers: PodSourceHandlers,
  log: (message: string) => void,
): PodSource {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const watch = new Watch(kubeConfig);
  const fieldSelector = `spec.nodeName=${node}`;
  const stopping = new AbortController();
  let connection: AbortController | undefined;

  const watchFrom = (resourceVersion: string | undefined) =>
    new Promise<void>((resolve, reject) => {
      watch
        .watch(
          '/api/v1/pods',
          { fieldSelector, resourceVersion, allowWatchBookmarks: true },
          (type: string, object: unknown) => {
            if (type === 'ERROR') {
              // Typically 410 Gone: the resource version is too old; a fresh list recovers.
              reject(new Error(`watch error: ${(object as { message?: string }).message ?? JSON.stringify(object)}`));
              connection?.abort();
            } else if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') {
              handlers.change(type, object as V1Pod);
            }
          },
          (err: unknown) => (err ? reject(err) : resolve()),
        )
        .then((c) => {
          connection = c;
          if (stopping.signal.aborted) c.abort();
        }, reject);
    });

  const loop = (async () => {
    let backoff = 0;
    while (!stopping.signal.aborted) {
      try {
        if (backoff > 0) await sleep(backoff, undefined, { signal: stopping.signal });
        const list = await core.listPodForAllNamespaces({ fieldSelector });
        handlers.resync(list.items);
        const started = Date.now();
        await watchFrom(list.metadata?.resourceVersion);
        // A watch that the server keeps closing at once must not turn into a tight list loop.
        backoff = Date.now() - started < MIN_WATCH_MS ? Math.min(Math.max(backoff * 2, 500), MAX_BACKOFF_MS) : 0;
      } catch (err) {
        if (stopping.signal.aborted) break;
        backoff = Math.min(Math.max(backoff * 2, 500), MAX_BACKOFF_MS);
        log(`${node}: pod watch failed, retrying in ${backoff} ms: ${(err as Error).message}`);
      }
    }
  })();

  return {
    async stop() {
      stopping.abort();
      connection?.abort();
      await loop;
    },
  };
}
