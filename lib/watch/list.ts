// The raw LIST of a collection. Lists are read as plain JSON, like watch events, so a cached object looks
// the same whichever of the two delivered it.
import {
  ApiException,
  HttpMethod,
  ServerConfiguration,
  createConfiguration,
  type Configuration,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { type Kind, collectionPath } from './kind.ts';

/** A list as the apiserver sends it (client-node's typed lists rename `continue` to `_continue`). */
interface RawList<T> {
  items?: T[];
  metadata?: { resourceVersion?: string; continue?: string };
}

export class ListClient {
  private readonly config: Configuration;

  constructor(private readonly kubeConfig: KubeConfig) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    this.config = createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: kubeConfig },
    });
  }

  /** One page of a LIST; throws ApiException for any non-2xx answer. */
  async page<T extends KubernetesObject>(
    path: string,
    query: Record<string, string>,
    signal: AbortSignal,
  ): Promise<RawList<T>> {
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
  async list<T extends KubernetesObject>(
    kind: Kind,
    stop?: AbortSignal,
    limit = 500,
    pageTimeoutMs = 60_000,
  ): Promise<{ items: T[]; resourceVersion: string }> {
    const path = collectionPath(kind);
    const apiVersion = kind.group ? `${kind.group}/${kind.version}` : kind.version;
    const selector: Record<string, string> = kind.fieldSelector ? { fieldSelector: kind.fieldSelector } : {};
    const items: T[] = [];
    let cont: string | undefined;
    for (;;) {
      const signal = stop
        ? AbortSignal.any([stop, AbortSignal.timeout(pageTimeoutMs)])
        : AbortSignal.timeout(pageTimeoutMs);
      const page: RawList<T> = await this.page<T>(
        path,
        { ...selector, limit: String(limit), ...(cont ? { continue: cont } : {}) },
        signal,
      );
      for (const item of page.items ?? [])
        items.push({ ...item, apiVersion: item.apiVersion ?? apiVersion, kind: item.kind ?? kind.kind });
      cont = page.metadata?.continue;
      if (!cont) return { items, resourceVersion: page.metadata?.resourceVersion ?? '' };
    }
  }
}
