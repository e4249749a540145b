// The apiserver reads and writes that both the agent and the controller's garbage collector make, always
// fresh (never from a cache). A 404 on a read is an answer (undefined); any other error is thrown. All of them
// go through the lean JSON client (json-client.ts): client-node's generated API classes would add 1.5 MB of code
// to the agent's bundle for the few reads it makes, besides their CPU on the ADD and DEL path.
import type { KubeConfig, V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import type { SpiderEndpoint, SpiderIPPool } from '../api/v2beta1/types.ts';
import { KINDS, customResource } from '../api/v2beta1/kinds.ts';
import { JsonClient } from './json-client.ts';
import { orUndefined, requestTimeoutOf } from './kube.ts';
import { collectionPath } from './watch/kind.ts';

export const POOLS = customResource(KINDS.SpiderIPPool);
export const ENDPOINTS = customResource(KINDS.SpiderEndpoint);

/** The path of a built-in or custom object: `namespace` '' for a cluster-scoped one. */
export function objectPath(groupVersion: string, plural: string, namespace: string, object: string): string {
  const root = groupVersion === 'v1' ? '/api/v1' : `/apis/${groupVersion}`;
  return `${root}${namespace ? `/namespaces/${name(namespace)}` : ''}/${plural}/${name(object)}`;
}

const name = (n: string) => encodeURIComponent(n);
export const poolPath = (pool: string) => `${collectionPath(KINDS.SpiderIPPool)}/${name(pool)}`;
export const endpointsPath = (namespace: string) => collectionPath({ ...KINDS.SpiderEndpoint, namespace });
export const endpointPath = (namespace: string, endpoint: string) => `${endpointsPath(namespace)}/${name(endpoint)}`;

export class SpiderpoolClient {
  readonly json: JsonClient;
  /**
   * Pool reads and status writes have connections of their own: every waiting ADD and DEL waits for the pool
   * writer, so its calls must never queue behind a burst of pod and endpoint calls.
   */
  readonly poolJson: JsonClient;

  constructor(kubeConfig: KubeConfig) {
    const timeoutMs = requestTimeoutOf(kubeConfig) ?? 30_000;
    this.json = new JsonClient(kubeConfig, timeoutMs);
    this.poolJson = new JsonClient(kubeConfig, timeoutMs);
  }

  /** A fresh read of any object; undefined when it does not exist. */
  get<T>(path: string): Promise<T | undefined> {
    return orUndefined(this.json.request<T>('GET', path));
  }

  pod(namespace: string, pod: string): Promise<V1Pod | undefined> {
    return this.get(objectPath('v1', 'pods', namespace, pod));
  }

  statefulSet(namespace: string, statefulSet: string): Promise<V1StatefulSet | undefined> {
    return this.get(objectPath('apps/v1', 'statefulsets', namespace, statefulSet));
  }

  endpoint(namespace: string, endpoint: string): Promise<SpiderEndpoint | undefined> {
    return this.get(endpointPath(namespace, endpoint));
  }

  read(pool: string): Promise<SpiderIPPool> {
    return this.poolJson.request<SpiderIPPool>('GET', poolPath(pool));
  }

  /** PUT of the status subresource, refused with 409 when the pool changed since it was read. */
  writeStatus(pool: SpiderIPPool): Promise<SpiderIPPool> {
    return this.poolJson.request<SpiderIPPool>('PUT', `${poolPath(pool.metadata.name)}/status`, { body: pool });
  }

  /** PUT of the whole endpoint (it has no status subresource), refused with 409 on a stale resourceVersion. */
  replaceEndpoint(endpoint: SpiderEndpoint): Promise<SpiderEndpoint> {
    const path = endpointPath(endpoint.metadata.namespace as string, endpoint.metadata.name);
    return this.json.request<SpiderEndpoint>('PUT', path, { body: endpoint });
  }
}
