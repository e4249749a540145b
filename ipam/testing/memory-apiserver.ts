// An in-memory stand-in for the few apiserver calls the agent and the garbage collector make, shaped like
// lib/json-client.ts (requests routed by path), so the real clients (agent/cluster.ts, operator/gc/client.ts) run
// on top of it. It enforces what the allocation store relies on: resourceVersion preconditions (409), AlreadyExists
// on create (409), delete preconditions, and finalizers holding a deleted object. Every call passes a Gate first,
// which may delay it (interleavings) and inject a fault.
import { ApiException, type V1Namespace, type V1Node, type V1Pod } from '@kubernetes/client-node';
import type { SpiderEndpoint, SpiderIPPool } from '../../api/v2beta1/types.ts';
import { KINDS } from '../../api/v2beta1/kinds.ts';

/**
 * `conflict`: another writer slips in first, so the write meets a stale resourceVersion. `error`: a 5xx
 * before anything is stored. `lost`: the write is stored but the caller gets a 504, as when the apiserver
 * times out waiting for etcd. `stall`: the answer is held back while other calls overtake it.
 */
export type Fault = 'none' | 'conflict' | 'error' | 'lost' | 'stall';

export interface Gate {
  /** Decides the call's fault; `write` is false for reads, which only ever fail with `error` or stall. */
  fault(call: string, write: boolean): Fault;
  /** Resolves when the call may proceed to its next step; where interleavings happen. */
  pass(call: string): Promise<void>;
}

const openGate: Gate = { fault: () => 'none', pass: () => Promise.resolve() };

interface Named {
  namespace?: string;
  name?: string;
}

const fail = (code: number, reason: string, message: string) =>
  new ApiException(code, message, JSON.stringify({ kind: 'Status', reason, message, code }), {});
const notFound = (what: string) => fail(404, 'NotFound', `${what} not found`);
const conflict = (what: string) => fail(409, 'Conflict', `the object ${what} has been modified`);

export class MemoryApiserver {
  gate: Gate = openGate;
  readonly pools = new Map<string, SpiderIPPool>();
  readonly endpoints = new Map<string, SpiderEndpoint>();
  readonly pods = new Map<string, V1Pod>();
  readonly namespaces = new Map<string, V1Namespace>();
  readonly nodes = new Map<string, V1Node>();
  private version = 1;
  private uids = 0;

  private nextVersion(): string {
    return String(++this.version);
  }

  addPool(pool: SpiderIPPool): void {
    this.pools.set(pool.metadata.name, {
      ...structuredClone(pool),
      metadata: { ...pool.metadata, uid: `pool-${++this.uids}`, resourceVersion: this.nextVersion() },
    });
  }

  /** A call through the gate: faults before the change, the change itself, then faults of the answer. */
  private async call<T>(name: string, write: boolean, apply: () => T): Promise<T> {
    const fault = this.gate.fault(name, write);
    await this.gate.pass(name);
    if (fault === 'error') throw fail(500, 'InternalError', `${name}: injected server error`);
    if (fault === 'conflict') this.bump(name);
    const result = structuredClone(apply());
    await this.gate.pass(name);
    if (fault === 'stall') for (let i = 0; i < 4; i++) await this.gate.pass(name);
    if (fault === 'lost') throw fail(504, 'Timeout', `${name}: the answer was lost`);
    return result;
  }

  /** Another writer changed the object a write is about to hit: its resourceVersion moves on. */
  private bump(call: string): void {
    const [, kind, key] = /^\w+ (\w+) (\S+)$/.exec(call) ?? [];
    const target = kind === 'pool' ? this.pools.get(key ?? '') : this.endpoints.get(key ?? '');
    if (target) target.metadata.resourceVersion = this.nextVersion();
  }

  private pool(name: string): SpiderIPPool {
    const pool = this.pools.get(name);
    if (!pool) throw notFound(`spiderippools ${name}`);
    return pool;
  }

  private endpoint(key: string): SpiderEndpoint {
    const endpoint = this.endpoints.get(key);
    if (!endpoint) throw notFound(`spiderendpoints ${key}`);
    return endpoint;
  }

  /** CustomObjectsApi, for SpiderIPPools and SpiderEndpoints. */
  private readonly custom = {
    getClusterCustomObject: ({ name }: { name: string }) =>
      this.call(`read pool ${name}`, false, () => this.pool(name)),
    listClusterCustomObject: () => this.call('list pool *', false, () => ({ items: [...this.pools.values()] })),
    replaceClusterCustomObjectStatus: ({ name, body }: { name: string; body: SpiderIPPool }) =>
      this.call(`write pool ${name}`, true, () => {
        const stored = this.pool(name);
        if (body.metadata.resourceVersion !== stored.metadata.resourceVersion) throw conflict(`spiderippools ${name}`);
        // The status subresource: only the status is taken from the body.
        const next = { ...stored, metadata: { ...stored.metadata, resourceVersion: this.nextVersion() } };
        next.status = structuredClone(body.status);
        this.pools.set(name, next);
        return next;
      }),
    getNamespacedCustomObject: ({ namespace, name }: Named) =>
      this.call(`read endpoint ${namespace}/${name}`, false, () => this.endpoint(`${namespace}/${name}`)),
    createNamespacedCustomObject: ({ namespace, body }: Named & { body: SpiderEndpoint }) => {
      const key = `${namespace}/${body.metadata.name}`;
      return this.call(`create endpoint ${key}`, true, () => {
        if (this.endpoints.has(key)) throw fail(409, 'AlreadyExists', `spiderendpoints ${key} already exists`);
        const created = structuredClone(body);
        created.metadata = {
          ...created.metadata,
          namespace,
          uid: `endpoint-${++this.uids}`,
          resourceVersion: this.nextVersion(),
        };
        this.endpoints.set(key, created);
        return created;
      });
    },
    replaceNamespacedCustomObject: ({ namespace, name, body }: Named & { body: SpiderEndpoint }) => {
      const key = `${namespace}/${name}`;
      return this.call(`write endpoint ${key}`, true, () => {
        const stored = this.endpoint(key);
        const { uid, resourceVersion } = body.metadata;
        if ((uid && uid !== stored.metadata.uid) || resourceVersion !== stored.metadata.resourceVersion)
          throw conflict(`spiderendpoints ${key}`);
        const next = structuredClone(body);
        next.metadata = {
          ...next.metadata,
          uid: stored.metadata.uid,
          resourceVersion: this.nextVersion(),
          ...(stored.metadata.deletionTimestamp ? { deletionTimestamp: stored.metadata.deletionTimestamp } : {}),
        };
        // A deleted object goes once its last finalizer does.
        if (next.metadata.deletionTimestamp && !next.metadata.finalizers?.length) this.endpoints.delete(key);
        else this.endpoints.set(key, next);
        return next;
      });
    },
    deleteNamespacedCustomObject: ({
      namespace,
      name,
      body,
    }: Named & { body?: { preconditions?: { uid?: string; resourceVersion?: string } } }) => {
      const key = `${namespace}/${name}`;
      return this.call(`delete endpoint ${key}`, true, () => {
        const stored = this.endpoint(key);
        const { uid, resourceVersion } = body?.preconditions ?? {};
        if (
          (uid && uid !== stored.metadata.uid) ||
          (resourceVersion && resourceVersion !== stored.metadata.resourceVersion)
        )
          throw conflict(`spiderendpoints ${key}`);
        // Like the apiserver for custom resources: the answer is the object, marked or as it was deleted.
        if (stored.metadata.finalizers?.length) {
          if (!stored.metadata.deletionTimestamp) {
            stored.metadata.deletionTimestamp = new Date().toISOString() as unknown as Date;
            stored.metadata.resourceVersion = this.nextVersion();
          }
        } else this.endpoints.delete(key);
        return structuredClone(stored);
      });
    },
  };

  /** CoreV1Api: pods, namespaces and nodes. */
  private readonly core = {
    readNamespacedPod: ({ namespace, name }: Named) =>
      this.call(`read pod ${namespace}/${name}`, false, () => {
        const pod = this.pods.get(`${namespace}/${name}`);
        if (!pod) throw notFound(`pods ${namespace}/${name}`);
        return pod;
      }),
    readNamespace: ({ name }: Named) =>
      this.call(`read namespace ${name}`, false, () => {
        const ns = this.namespaces.get(name ?? '');
        if (!ns) throw notFound(`namespaces ${name}`);
        return ns;
      }),
    readNode: ({ name }: Named) =>
      this.call(`read node ${name}`, false, () => {
        const node = this.nodes.get(name ?? '');
        if (!node) throw notFound(`nodes ${name}`);
        return node;
      }),
  };

  /** AppsV1Api: this store holds no StatefulSets or ReplicaSets. */
  private readonly apps = {
    readNamespacedStatefulSet: ({ namespace, name }: Named) =>
      this.call(`read statefulset ${namespace}/${name}`, false, () => {
        throw notFound(`statefulsets ${namespace}/${name}`);
      }),
    readNamespacedReplicaSet: ({ namespace, name }: Named) =>
      this.call(`read replicaset ${namespace}/${name}`, false, () => {
        throw notFound(`replicasets ${namespace}/${name}`);
      }),
  };

  /** The lean JSON client (lib/json-client.ts), routed to the same calls by path. */
  readonly json = {
    request: (method: string, path: string, options: { body?: unknown } = {}): Promise<unknown> => {
      const body = options.body as never;
      const m = /^\/apis?\/(?:v1|[^/]+\/[^/]+)\/(?:namespaces\/([^/]+)\/)?([a-z]+)(?:\/([^/]+))?(\/status)?$/.exec(
        path,
      );
      const [, ns, plural, encoded, status] = m ?? [];
      const named = { namespace: ns && decodeURIComponent(ns), name: encoded && decodeURIComponent(encoded) } as {
        namespace: string;
        name: string;
      };
      const route = `${method} ${plural}${named.name ? '/name' : ''}${status ?? ''}`;
      switch (route) {
        case 'GET pods/name':
          return this.core.readNamespacedPod(named);
        case 'GET namespaces/name':
          return this.core.readNamespace(named);
        case 'GET nodes/name':
          return this.core.readNode(named);
        case 'GET statefulsets/name':
          return this.apps.readNamespacedStatefulSet(named);
        case 'GET replicasets/name':
          return this.apps.readNamespacedReplicaSet(named);
        case 'GET jobs/name':
        case 'GET virtualmachineinstances/name':
        case 'GET virtualmachines/name':
          return this.call(`read ${plural} ${named.namespace}/${named.name}`, false, () => {
            throw notFound(`${plural} ${named.namespace}/${named.name}`);
          });
        case 'GET spiderippools/name':
          return this.custom.getClusterCustomObject(named);
        case 'PUT spiderippools/name/status':
          return this.custom.replaceClusterCustomObjectStatus({ ...named, body });
        case 'GET spiderendpoints/name':
          return this.custom.getNamespacedCustomObject(named);
        case 'POST spiderendpoints':
          return this.custom.createNamespacedCustomObject({ ...named, body });
        case 'PUT spiderendpoints/name':
          return this.custom.replaceNamespacedCustomObject({ ...named, body });
        case 'DELETE spiderendpoints/name':
          return this.custom.deleteNamespacedCustomObject({ ...named, body });
        default:
          return Promise.reject(new Error(`the in-memory apiserver does not serve ${method} ${path}`));
      }
    },
  };

  /** A watch cache that is always up to date (a view of the store, not a copy). */
  cache(plural: string): { get(key: string): unknown; list(): unknown[] } {
    const maps: Record<string, Map<string, unknown>> = {
      [KINDS.SpiderIPPool.plural]: this.pools,
      [KINDS.SpiderEndpoint.plural]: this.endpoints,
      [KINDS.SpiderReservedIP.plural]: new Map(),
      pods: this.pods,
      namespaces: this.namespaces,
      statefulsets: new Map(),
    };
    const map = maps[plural];
    if (!map) throw new Error(`no cache of ${plural}`);
    return {
      get: (key) => structuredClone(map.get(key)),
      list: () => [...map.values()].map((v) => structuredClone(v)),
    };
  }
}
