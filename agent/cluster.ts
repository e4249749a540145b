// What the agent reads from the cluster. Pools and reserved IPs come from watch-fed caches (every ADD
// consults them); pods, namespaces and owners are read fresh, because a stale pod would let the agent
// hand addresses to a pod that is already gone.
import {
  AppsV1Api, CoreV1Api, CustomObjectsApi, makeInformer, type Informer, type KubeConfig, type KubernetesObject,
  type ObjectCache, type V1Namespace, type V1Node, type V1Pod, type V1ReplicaSet, type V1StatefulSet,
} from '@kubernetes/client-node';
import { FINALIZER, GROUP, VERSION, type SpiderEndpoint, type SpiderIPPool, type SpiderReservedIP } from '../api/v2beta1/types.ts';
import { isConflict, isNotFound } from '../lib/kube.ts';
import type { Logger } from '../lib/log.ts';
import type { PoolStatusClient } from './store/pool-batcher.ts';

type Cache<T extends KubernetesObject> = Informer<T> & ObjectCache<T>;

async function orUndefined<T>(read: Promise<T>): Promise<T | undefined> {
  try {
    return await read;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export class Cluster implements PoolStatusClient {
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly custom: CustomObjectsApi;
  private readonly poolCache: Cache<SpiderIPPool>;
  private readonly reservedCache: Cache<SpiderReservedIP>;
  private readonly nodeCache = new Map<string, { node: V1Node; at: number }>();

  constructor(kubeConfig: KubeConfig, private readonly log: Logger) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.apps = kubeConfig.makeApiClient(AppsV1Api);
    this.custom = kubeConfig.makeApiClient(CustomObjectsApi);
    this.poolCache = this.watch<SpiderIPPool>(kubeConfig, 'spiderippools');
    this.reservedCache = this.watch<SpiderReservedIP>(kubeConfig, 'spiderreservedips');
  }

  private watch<T extends KubernetesObject>(kubeConfig: KubeConfig, plural: string): Cache<T> {
    const list = () => this.custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural }) as Promise<{ items: T[]; metadata?: object }>;
    const informer = makeInformer<T>(kubeConfig, `/apis/${GROUP}/${VERSION}/${plural}`, list as never);
    // client-node informers stay stopped after an error; keep them alive like the official example does.
    informer.on('error', (err: unknown) => {
      this.log.warn('watch failed, restarting', { plural, err: String(err) });
      setTimeout(() => void informer.start().catch(() => undefined), 2000);
    });
    return informer;
  }

  async start(): Promise<void> {
    await Promise.all([this.poolCache.start(), this.reservedCache.start()]);
  }

  async stop(): Promise<void> {
    await Promise.all([this.poolCache.stop(), this.reservedCache.stop()]);
  }

  pools(): readonly SpiderIPPool[] {
    return this.poolCache.list();
  }

  /** Fresh list, for when the cache has not caught up with a pool that was just created. */
  async listPools(): Promise<SpiderIPPool[]> {
    const list = await this.custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: 'spiderippools' }) as { items: SpiderIPPool[] };
    return list.items;
  }

  reservedIPs(): SpiderReservedIP[] {
    return this.reservedCache.list().filter((r) => !r.metadata.deletionTimestamp);
  }

  read(name: string): Promise<SpiderIPPool> {
    return this.custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural: 'spiderippools', name }) as Promise<SpiderIPPool>;
  }

  writeStatus(pool: SpiderIPPool): Promise<SpiderIPPool> {
    return this.custom.replaceClusterCustomObjectStatus({ group: GROUP, version: VERSION, plural: 'spiderippools', name: pool.metadata.name, body: pool }) as Promise<SpiderIPPool>;
  }

  pod(namespace: string, name: string): Promise<V1Pod | undefined> {
    return orUndefined(this.core.readNamespacedPod({ namespace, name }));
  }

  namespace(name: string): Promise<V1Namespace> {
    return this.core.readNamespace({ name });
  }

  /** Nodes change rarely and every ADD on this agent asks for the same one. */
  async node(name: string): Promise<V1Node> {
    const hit = this.nodeCache.get(name);
    if (hit && Date.now() - hit.at < 10_000) return hit.node;
    const node = await this.core.readNode({ name });
    this.nodeCache.set(name, { node, at: Date.now() });
    return node;
  }

  replicaSet(namespace: string, name: string): Promise<V1ReplicaSet | undefined> {
    return orUndefined(this.apps.readNamespacedReplicaSet({ namespace, name }));
  }

  statefulSet(namespace: string, name: string): Promise<V1StatefulSet | undefined> {
    return orUndefined(this.apps.readNamespacedStatefulSet({ namespace, name }));
  }

  endpoint(namespace: string, name: string): Promise<SpiderEndpoint | undefined> {
    return orUndefined(this.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: 'spiderendpoints', namespace, name }) as Promise<SpiderEndpoint>);
  }

  createEndpoint(endpoint: SpiderEndpoint): Promise<SpiderEndpoint> {
    return this.custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, plural: 'spiderendpoints', namespace: endpoint.metadata.namespace as string, body: endpoint }) as Promise<SpiderEndpoint>;
  }

  replaceEndpoint(endpoint: SpiderEndpoint): Promise<SpiderEndpoint> {
    return this.custom.replaceNamespacedCustomObject({ group: GROUP, version: VERSION, plural: 'spiderendpoints', namespace: endpoint.metadata.namespace as string, name: endpoint.metadata.name, body: endpoint }) as Promise<SpiderEndpoint>;
  }

  /**
   * Removes our finalizer and deletes the endpoint. The garbage collector marks the endpoint for deletion
   * as soon as its pod is gone, so the finalizer update re-reads and retries when it loses that race.
   */
  async deleteEndpoint(endpoint: SpiderEndpoint): Promise<void> {
    const { namespace, name } = endpoint.metadata as { namespace: string; name: string };
    let current: SpiderEndpoint | undefined = endpoint;
    for (let attempt = 0; current?.metadata.finalizers?.includes(FINALIZER); attempt++) {
      const finalizers = current.metadata.finalizers.filter((f) => f !== FINALIZER);
      try {
        await orUndefined(this.replaceEndpoint({ ...current, metadata: { ...current.metadata, finalizers } }));
        break;
      } catch (err) {
        if (!isConflict(err) || attempt >= 10) throw err;
        current = await this.endpoint(namespace, name);
      }
    }
    await orUndefined(this.custom.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, plural: 'spiderendpoints', namespace, name }));
  }
}
