// Paths of watched kinds and the raw LIST of a collection. Lists are read as plain JSON, like watch
// events, so a cached object looks the same whichever of the two delivered it.
import {
  ApiException, HttpMethod, Observable, ServerConfiguration, createConfiguration, type Configuration, type ConfigurationOptions,
  type KubeConfig, type KubernetesObject, type RequestContext, type ResponseContext,
} from '@kubernetes/client-node';
import type { Kind } from './types.ts';

/** A list as the apiserver sends it (client-node's typed lists rename `continue` to `_continue`). */
interface RawList<T> {
  items?: T[];
  metadata?: { resourceVersion?: string; continue?: string };
}

/** A stable identity of a watched kind (the same kind may be declared by several reconcilers). */
export function kindId(kind: Kind): string {
  return `${kind.plural}.${kind.group || 'core'}/${kind.version}${kind.namespace ? ` in ${kind.namespace}` : ''}`;
}

export function collectionPath(kind: Kind): string {
  const root = kind.group ? `/apis/${kind.group}/${kind.version}` : `/api/${kind.version}`;
  return kind.namespace ? `${root}/namespaces/${encodeURIComponent(kind.namespace)}/${kind.plural}` : `${root}/${kind.plural}`;
}

export class ListClient {
  private readonly config: Configuration;

  constructor(private readonly kubeConfig: KubeConfig) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    this.config = createConfiguration({ baseServer: new ServerConfiguration(cluster.server, {}), authMethods: { default: kubeConfig } });
  }

  /** One page of a LIST; throws ApiException for any non-2xx answer. */
  async page<T extends KubernetesObject>(path: string, query: Record<string, string>, signal: AbortSignal): Promise<RawList<T>> {
    const ctx = this.config.baseServer.makeRequestContext(path, HttpMethod.GET);
    for (const [name, value] of Object.entries(query)) ctx.setQueryParam(name, value);
    ctx.setHeaderParam('Accept', 'application/json');
    ctx.setSignal(signal);
    await this.kubeConfig.applySecurityAuthentication(ctx);
    const response = await this.config.httpApi.send(ctx).toPromise();
    const text = await response.body.text();
    if (response.httpStatusCode < 200 || response.httpStatusCode > 299) {
      throw new ApiException(response.httpStatusCode, `GET ${path} failed`, text, response.headers);
    }
    return JSON.parse(text) as RawList<T>;
  }

  /**
   * Every object of the kind, read in pages of `limit`, and the resourceVersion to watch from. Items of a
   * list carry no apiVersion and kind of their own; they get the kind's, as watch events have them.
   */
  async list<T extends KubernetesObject>(kind: Kind, stop?: AbortSignal, limit = 500, pageTimeoutMs = 60_000): Promise<{ items: T[]; resourceVersion: string }> {
    const path = collectionPath(kind);
    const apiVersion = kind.group ? `${kind.group}/${kind.version}` : kind.version;
    const items: T[] = [];
    let cont: string | undefined;
    for (;;) {
      const signal = stop ? AbortSignal.any([stop, AbortSignal.timeout(pageTimeoutMs)]) : AbortSignal.timeout(pageTimeoutMs);
      const page: RawList<T> = await this.page<T>(path, { limit: String(limit), ...(cont ? { continue: cont } : {}) }, signal);
      for (const item of page.items ?? []) items.push({ ...item, apiVersion: item.apiVersion ?? apiVersion, kind: item.kind ?? kind.kind });
      cont = page.metadata?.continue;
      if (!cont) return { items, resourceVersion: page.metadata?.resourceVersion ?? '' };
    }
  }
}

/**
 * Per-call options that abort a client-node request after `ms`: generated API calls have no timeout, and
 * a call that hangs must not hold the lease loop past its deadline.
 */
export function requestTimeout(ms: number): ConfigurationOptions {
  return {
    middleware: [{
      pre: (ctx: RequestContext) => {
        ctx.setSignal(AbortSignal.timeout(ms));
        return new Observable(Promise.resolve(ctx));
      },
      post: (rsp: ResponseContext) => new Observable(Promise.resolve(rsp)),
    }],
    middlewareMergeStrategy: 'append',
  };
}
