// What the agent reads from the cluster. Pools, reserved IPs, namespaces and this node's pods come from
// watch-fed caches, since every ADD consults them. A cached pod is trusted only where staleness is
// harmless: its UID must match the request, and a DEL re-reads a pod that the cache still shows alive.
import type {
  KubeConfig,
  KubernetesObject,
  V1Namespace,
  V1Job,
  V1ObjectMeta,
  V1Node,
  V1Pod,
  V1ReplicaSet,
} from '@kubernetes/client-node';
import type { SpiderEndpoint, SpiderIPPool, SpiderReservedIP } from '../api/v2beta1/types.ts';
import { FINALIZER } from '../api/v2beta1/constants.ts';
import { KINDS } from '../api/v2beta1/kinds.ts';
import type { PoolStatusClient } from '../ipam/retry.ts';
import { isConflict, orUndefined } from '../lib/kube.ts';
import type { Logger } from '../lib/log.ts';
import { SpiderpoolClient, endpointsPath, objectPath } from '../lib/spiderpool-client.ts';
import { Informer } from '../lib/watch/informer.ts';
import { collectionPath, type Kind } from '../lib/watch/kind.ts';

/**
 * Every apiserver call of the agent fails after this long: a hung call must not hold an ADD, or a pool's
 * writer and every ADD queued behind it, for longer. The plugin waits longer than that for its answer.
 */
export const API_TIMEOUT_MS = 10_000;

export class Cluster extends SpiderpoolClient implements PoolStatusClient {
  private readonly poolCache: Informer<SpiderIPPool>;
  private readonly reservedCache: Informer<SpiderReservedIP>;
  private readonly podCache: Informer<V1Pod>;
  private readonly namespaceCache: Informer<V1Namespace>;
  private readonly nodeCache = new Map<string, { node: Promise<V1Node>; at: number }>();
  /**
   * Endpoints this agent last wrote, as the apiserver returned them, for pods that own them: such an endpoint is
   * never re-bound to another pod, and only this agent or the garbage collector change it, so a DEL starts from
   * this copy instead of reading it again (a write from a stale copy fails on its resourceVersion and re-reads).
   */
  private readonly written = new Map<string, SpiderEndpoint>();
  /** Pods of this node the watch saw deleted, by UID, oldest first: a UID is never reused. */
  private readonly deleted = new Map<string, V1Pod>();
  private readonly replicaSetOwners = new Map<string, V1ReplicaSet>();
  private readonly jobOwners = new Map<string, V1Job>();

  constructor(kubeConfig: KubeConfig, nodeName: string, log: Logger) {
    super(kubeConfig);
    const informer = <T extends KubernetesObject>(kind: Kind) => new Informer<T>({ kind, kubeConfig, log });
    this.poolCache = informer(KINDS.SpiderIPPool);
    this.reservedCache = informer(KINDS.SpiderReservedIP);
    this.podCache = informer({
      group: '',
      version: 'v1',
      plural: 'pods',
      kind: 'Pod',
      namespaced: true,
      fieldSelector: `spec.nodeName=${nodeName}`,
    });
    this.podCache.onChange(({ before, after }) => {
      const uid = before?.metadata?.uid;
      if (after || !uid) return;
      if (this.deleted.size >= 10_000) this.deleted.delete(this.deleted.keys().next().value as string);
      this.deleted.set(uid, before);
    });
    this.namespaceCache = informer({
      group: '',
      version: 'v1',
      plural: 'namespaces',
      kind: 'Namespace',
      namespaced: false,
    });
  }

  private get caches(): Pick<Informer, 'start' | 'waitForSync' | 'stop'>[] {
    return [this.poolCache, this.reservedCache, this.podCache, this.namespaceCache];
  }

  /** Resolves once every cache holds its first LIST; failed lists and watches are retried meanwhile. */
  async start(): Promise<void> {
    for (const cache of this.caches) cache.start();
    await Promise.all(this.caches.map((c) => c.waitForSync()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.caches.map((c) => c.stop()));
  }

  pools(): readonly SpiderIPPool[] {
    return this.poolCache.store.list();
  }

  /** The pool as the watch last delivered it. */
  cachedPool(name: string): SpiderIPPool | undefined {
    return this.poolCache.store.get(name);
  }

  /** Fresh list, for when the cache has not caught up with a pool that was just created. */
  async listPools(): Promise<SpiderIPPool[]> {
    const list = await this.poolJson.request<{ items: SpiderIPPool[] }>('GET', collectionPath(KINDS.SpiderIPPool));
    return list.items;
  }

  reservedIPs(): SpiderReservedIP[] {
    return this.reservedCache.store.list().filter((r) => !r.metadata.deletionTimestamp);
  }

  /** The pod with this UID from the cache of this node's pods, read fresh when the cache has not seen it. */
  async podWithUid(namespace: string, name: string, uid: string): Promise<V1Pod | undefined> {
    const cached = this.podCache.store.get(`${namespace}/${name}`);
    if (cached?.metadata?.uid === uid) return cached;
    return this.pod(namespace, name);
  }

  /** The last state of a pod of this node that the watch saw deleted: for a DEL, proof that it is gone. */
  deletedPod(uid: string): V1Pod | undefined {
    return this.deleted.get(uid);
  }

  /** For a DEL: a cached pod that is terminating stays so, but one that looks alive may be stale. */
  cachedPod(namespace: string, name: string): V1Pod | undefined {
    return this.podCache.store.get(`${namespace}/${name}`);
  }

  async namespace(name: string): Promise<V1Namespace> {
    return (
      this.namespaceCache.store.get(name) ??
      this.json.request<V1Namespace>('GET', objectPath('v1', 'namespaces', '', name))
    );
  }

  /** Nodes change rarely and every ADD on this agent asks for the same one; concurrent ADDs share one read. */
  async node(name: string): Promise<V1Node> {
    const hit = this.nodeCache.get(name);
    if (hit && Date.now() - hit.at < 10_000) return hit.node;
    const node = this.json.request<V1Node>('GET', objectPath('v1', 'nodes', '', name));
    this.nodeCache.set(name, { node, at: Date.now() });
    try {
      return await node;
    } catch (err) {
      this.nodeCache.delete(name);
      throw err;
    }
  }

  /** ReplicaSets never change owner, so each is read once. */
  replicaSet(namespace: string, name: string, uid: string): Promise<V1ReplicaSet | undefined> {
    return ownersOnce(this.replicaSetOwners, uid, () =>
      this.get(objectPath('apps/v1', 'replicasets', namespace, name)),
    );
  }

  /** Jobs never change owner either: whether a CronJob made one is read once. */
  job(namespace: string, name: string, uid: string): Promise<V1Job | undefined> {
    return ownersOnce(this.jobOwners, uid, () => this.get(objectPath('batch/v1', 'jobs', namespace, name)));
  }

  async createEndpoint(endpoint: SpiderEndpoint): Promise<SpiderEndpoint> {
    const path = endpointsPath(endpoint.metadata.namespace as string);
    return this.remember(await this.json.request<SpiderEndpoint>('POST', path, { body: endpoint }));
  }

  override async replaceEndpoint(endpoint: SpiderEndpoint): Promise<SpiderEndpoint> {
    this.written.delete(endpointKey(endpoint));
    return this.remember(await super.replaceEndpoint(endpoint));
  }

  /** The endpoint of this pod UID as this agent last wrote it, if the pod owns it (see `written`). */
  writtenEndpoint(namespace: string, name: string, uid: string): SpiderEndpoint | undefined {
    const endpoint = this.written.get(`${namespace}/${name}`);
    return endpoint?.status?.current.uid === uid ? endpoint : undefined;
  }

  private remember(endpoint: SpiderEndpoint): SpiderEndpoint {
    const key = endpointKey(endpoint);
    this.written.delete(key);
    const uid = endpoint.status?.current.uid;
    const ownedByPod = endpoint.metadata.ownerReferences?.some((r) => r.kind === 'Pod' && r.uid === uid);
    if (!ownedByPod || endpoint.metadata.deletionTimestamp) return endpoint;
    if (this.written.size >= 2_000) this.written.delete(this.written.keys().next().value as string);
    this.written.set(key, endpoint);
    return endpoint;
  }

  /**
   * Deletes the endpoint, then removes our finalizer from what the delete answered. Deleting first needs no read:
   * the garbage collector may already have marked the endpoint when its pod went, and a second delete changes
   * nothing, while the answer carries the resourceVersion the finalizer update needs. Both steps apply only to
   * this endpoint: one a new pod of the same name created meanwhile is left alone.
   */
  async deleteEndpoint(endpoint: SpiderEndpoint): Promise<void> {
    const { namespace, name, uid } = endpoint.metadata as { namespace: string; name: string; uid?: string };
    this.written.delete(endpointKey(endpoint));
    let current: SpiderEndpoint | undefined;
    try {
      current = await orUndefined(
        this.json.request<SpiderEndpoint>('DELETE', `${endpointsPath(namespace)}/${encodeURIComponent(name)}`, {
          ...(uid ? { body: { preconditions: { uid } } } : {}),
        }),
      );
    } catch (err) {
      // The precondition failed: the name now belongs to another pod's endpoint.
      if (isConflict(err)) return;
      throw err;
    }
    // An endpoint without finalizers is gone at once, and the answer may then be a Status without metadata.
    for (let attempt = 0; current?.metadata?.finalizers?.includes(FINALIZER); attempt++) {
      if (uid && current.metadata.uid !== uid) return;
      const finalizers = current.metadata.finalizers.filter((f) => f !== FINALIZER);
      try {
        await orUndefined(super.replaceEndpoint({ ...current, metadata: { ...current.metadata, finalizers } }));
        return;
      } catch (err) {
        if (!isConflict(err) || attempt >= 10) throw err;
        current = await this.endpoint(namespace, name);
      }
    }
  }
}

const endpointKey = (endpoint: SpiderEndpoint) => `${endpoint.metadata.namespace}/${endpoint.metadata.name}`;

/**
 * The object of this UID as far as its owners go, read once and then kept (owner references never change); an
 * object of the same name with another UID is returned but not kept.
 */
async function ownersOnce<T extends { metadata?: V1ObjectMeta }>(
  known: Map<string, T>,
  uid: string,
  read: () => Promise<T | undefined>,
): Promise<T | undefined> {
  const kept = known.get(uid);
  if (kept) return kept;
  const object = await read();
  if (object?.metadata?.uid === uid) {
    if (known.size >= 10_000) known.clear();
    known.set(uid, { metadata: { uid, ownerReferences: object.metadata.ownerReferences } } as T);
  }
  return object;
}
