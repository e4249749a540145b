// The objects of one watched kind, keyed by "namespace/name" or "name". resourceVersions are opaque:
// they are compared only for equality, never for order.
import type { KubernetesObject } from '@kubernetes/client-node';

/** "name" for cluster-scoped objects, "namespace/name" for namespaced ones. */
export type Key = string;

export function keyOf(obj: KubernetesObject): Key {
  const { name, namespace } = obj.metadata ?? {};
  return namespace ? `${namespace}/${name}` : `${name}`;
}

/** A read-only, eventually consistent view of one kind, filled from list+watch. */
export interface ReadCache<T extends KubernetesObject = KubernetesObject> {
  get(key: Key): T | undefined;
  list(namespace?: string): T[];
}

/** One change to the store; `before` is undefined for a new object, `after` for a removed one. */
export interface Change<T extends KubernetesObject = KubernetesObject> {
  key: Key;
  before?: T;
  after?: T;
}

export class Store<T extends KubernetesObject = KubernetesObject> implements ReadCache<T> {
  private readonly objects = new Map<Key, T>();

  get(key: Key): T | undefined {
    return this.objects.get(key);
  }

  list(namespace?: string): T[] {
    const all = [...this.objects.values()];
    return namespace === undefined ? all : all.filter((o) => o.metadata?.namespace === namespace);
  }

  get size(): number {
    return this.objects.size;
  }

  keys(): Key[] {
    return [...this.objects.keys()];
  }

  put(obj: T): Change<T> {
    const key = keyOf(obj);
    const before = this.objects.get(key);
    this.objects.set(key, obj);
    return { key, before, after: obj };
  }

  remove(obj: KubernetesObject): Change<T> | undefined {
    const key = keyOf(obj);
    const before = this.objects.get(key);
    if (!before) return undefined;
    this.objects.delete(key);
    return { key, before };
  }

  /**
   * Replaces the contents with a full list. Objects missing from the list are reported as removed (their
   * delete event may have been lost while the watch was down); objects whose resourceVersion is unchanged
   * are not reported.
   */
  replace(items: readonly T[]): Change<T>[] {
    const changes: Change<T>[] = [];
    const seen = new Set<Key>();
    for (const obj of items) {
      const key = keyOf(obj);
      seen.add(key);
      const before = this.objects.get(key);
      this.objects.set(key, obj);
      if (before?.metadata?.resourceVersion !== obj.metadata?.resourceVersion || before === undefined)
        changes.push({ key, before, after: obj });
    }
    for (const [key, before] of this.objects) {
      if (seen.has(key)) continue;
      this.objects.delete(key);
      changes.push({ key, before });
    }
    return changes;
  }
}
