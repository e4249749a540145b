// The apiserver reads and writes that both the agent and the controller's garbage collector make, always
// fresh (never from a cache). A 404 on a read is an answer (undefined); any other error is thrown. The ones on
// the ADD and DEL path go through the lean JSON client (json-client.ts).
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type V1Pod,
  type V1StatefulSet,
} from '@kubernetes/client-node';
import type { SpiderEndpoint, SpiderIPPool } from '../api/v2beta1/types.ts';
import { KINDS, customResource } from '../api/v2beta1/kinds.ts';
import { JsonClient } from './json-client.ts';
import { orUndefined, requestTimeoutOf } from './kube.ts';
import { collectionPath } from './watch/kind.ts';

export const POOLS = customResource(KINDS.SpiderIPPool);
export const ENDPOINTS = customResource(KINDS.SpiderEndpoint);

const name = (n: string) => encodeURIComponent(n);
export const poolPath = (pool: string) => `${collectionPath(KINDS.SpiderIPPool)}/${name(pool)}`;
export const endpointsPath = (namespace: string) => collectionPath({ ...KINDS.SpiderEndpoint, namespace });
const endpointPath = (namespace: string, endpoint: string) => `${endpointsPath(namespace)}/${name(endpoint)}`;

export class SpiderpoolClient {
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly custom: CustomObjectsApi;
  readonly json: JsonClient;
  /**
   * Pool reads and status writes have connections of their own: every waiting ADD and DEL waits for the pool
   * writer, so its calls must never queue behind a burst of pod and endpoint calls.
   */
  readonly poolJson: JsonClient;

  constructor(kubeConfig: KubeConfig) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.apps = kubeConfig.makeApiClient(AppsV1Api);
    this.custom = kubeConfig.makeApiClient(CustomObjectsApi);
    const timeoutMs = requestTimeoutOf(kubeConfig) ?? 30_000;
    this.json = new JsonClient(kubeConfig, timeoutMs);
    this.poolJson = new JsonClient(kubeConfig, timeoutMs);
  }

  pod(namespace: string, pod: string): Promise<V1Pod | undefined> {
    return orUndefined(this.json.request<V1Pod>('GET', `/api/v1/namespaces/${name(namespace)}/pods/${name(pod)}`));
  }

  statefulSet(namespace: string, name: string): Promise<V1StatefulSet | undefined> {
    return orUndefined(this.apps.readNamespacedStatefulSet({ namespace, name }));
  }

  endpoint(namespace: string, endpoint: string): Promise<SpiderEndpoint | undefined> {
    return orUndefined(this.json.request<SpiderEndpoint>('GET', endpointPath(namespace, endpoint)));
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
