// Fresh reads and the writes of the garbage collector. Reads never come from a cache: they are the
// re-check that stands between a decision and a release. A 404 is an answer (undefined); any other error
// is thrown, so that nothing is freed on a read that failed.
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type V1Pod,
  type V1StatefulSet,
} from '@kubernetes/client-node';
import type { SpiderEndpoint, SpiderIPPool } from '../../api/v2beta1/types.ts';
import { GROUP, VERSION } from '../../api/v2beta1/constants.ts';
import { KINDS } from '../../api/v2beta1/kinds.ts';
import { orUndefined } from '../../lib/kube.ts';
import type { PoolStatusClient } from '../../ipam/retry.ts';

const ENDPOINTS = { group: GROUP, version: VERSION, plural: KINDS.SpiderEndpoint.plural };
const POOLS = { group: GROUP, version: VERSION, plural: KINDS.SpiderIPPool.plural };

export class GcClient implements PoolStatusClient {
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;
  private readonly custom: CustomObjectsApi;

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

  /** Deletes exactly this version of the endpoint: 409 if it changed or was re-created meanwhile. */
  deleteEndpoint(endpoint: SpiderEndpoint): Promise<unknown> {
    const { namespace, name, uid, resourceVersion } = endpoint.metadata;
    return this.custom.deleteNamespacedCustomObject({
      ...ENDPOINTS,
      namespace: namespace as string,
      name,
      body: { preconditions: { uid, resourceVersion } },
    });
  }

  /** PUT of the whole endpoint (it has no status subresource), refused with 409 on a stale resourceVersion. */
  replaceEndpoint(endpoint: SpiderEndpoint): Promise<SpiderEndpoint> {
    const { namespace, name } = endpoint.metadata;
    return this.custom.replaceNamespacedCustomObject({
      ...ENDPOINTS,
      namespace: namespace as string,
      name,
      body: endpoint,
    }) as Promise<SpiderEndpoint>;
  }
}
