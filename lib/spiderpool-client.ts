// The apiserver reads and writes that both the agent and the controller's garbage collector make, always
// fresh (never from a cache). A 404 on a read is an answer (undefined); any other error is thrown.
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
import { orUndefined } from './kube.ts';

export const POOLS = customResource(KINDS.SpiderIPPool);
export const ENDPOINTS = customResource(KINDS.SpiderEndpoint);

export class SpiderpoolClient {
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly custom: CustomObjectsApi;

  constructor(kubeConfig: KubeConfig) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.apps = kubeConfig.makeApiClient(AppsV1Api);
    this.custom = kubeConfig.makeApiClient(CustomObjectsApi);
  }

  pod(namespace: string, name: string): Promise<V1Pod | undefined> {
    return orUndefined(this.core.readNamespacedPod({ namespace, name }));
  }

  statefulSet(namespace: string, name: string): Promise<V1StatefulSet | undefined> {
    return orUndefined(this.apps.readNamespacedStatefulSet({ namespace, name }));
  }

  endpoint(namespace: string, name: string): Promise<SpiderEndpoint | undefined> {
    return orUndefined(
      this.custom.getNamespacedCustomObject({ ...ENDPOINTS, namespace, name }) as Promise<SpiderEndpoint>,
    );
  }

  read(name: string): Promise<SpiderIPPool> {
    return this.custom.getClusterCustomObject({ ...POOLS, name }) as Promise<SpiderIPPool>;
  }

  /** PUT of the status subresource, refused with 409 when the pool changed since it was read. */
  writeStatus(pool: SpiderIPPool): Promise<SpiderIPPool> {
    return this.custom.replaceClusterCustomObjectStatus({
      ...POOLS,
      name: pool.metadata.name,
      body: pool,
    }) as Promise<SpiderIPPool>;
  }

  /** PUT of the whole endpoint (it has no status subresource), refused with 409 on a stale resourceVersion. */
  replaceEndpoint(endpoint: SpiderEndpoint): Promise<SpiderEndpoint> {
    return this.custom.replaceNamespacedCustomObject({
      ...ENDPOINTS,
      namespace: endpoint.metadata.namespace as string,
      name: endpoint.metadata.name,
      body: endpoint,
    }) as Promise<SpiderEndpoint>;
  }
}
