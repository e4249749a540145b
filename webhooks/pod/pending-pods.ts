// Which waiting pods name which pools, for the capacity warning. Each pod's annotations are parsed once, when
// the pod changes, into the pool names and patterns it names per family; a pod create then looks its pools up
// by name instead of parsing every pending pod of the cluster.
import type { V1Pod } from '@kubernetes/client-node';
import { compileGlob, isPattern, parsePodIPAMAnnotations, type Glob } from '../../ipam/selection/index.ts';
import type { Family } from '../../lib/ip/index.ts';
import { keyOf, type Key } from '../../lib/watch/store.ts';

interface Named {
  names: Record<Family, string[]>;
  patterns: Record<Family, Glob[]>;
}

/** Not finished nor terminating: phase Pending, or no phase yet. */
const isWaiting = (p: V1Pod): boolean => !p.metadata?.deletionTimestamp && (p.status?.phase ?? 'Pending') === 'Pending';

/** The pools a pod names in ipam.spidernet.io/ippool or ippools; undefined when it names none it could use. */
function namedPools(pod: V1Pod): Named | undefined {
  let ipam;
  try {
    ipam = parsePodIPAMAnnotations(pod.metadata?.annotations);
  } catch {
    return undefined;
  }
  const lists = [...(ipam.ippools ?? []), ...(ipam.ippool ? [ipam.ippool] : [])];
  const named: Named = { names: { 4: [], 6: [] }, patterns: { 4: [], 6: [] } };
  for (const family of [4, 6] as const) {
    for (const entry of lists.flatMap((l) => (family === 4 ? l.ipv4 : l.ipv6))) {
      if (!isPattern(entry)) {
        named.names[family].push(entry);
        continue;
      }
      try {
        named.patterns[family].push(compileGlob(entry));
      } catch {
        // A malformed pattern matches no pool, as at allocation.
      }
    }
  }
  const empty = [4, 6].every((f) => named.names[f as Family].length === 0 && named.patterns[f as Family].length === 0);
  return empty ? undefined : named;
}

export class PendingPods {
  private readonly pods = new Map<Key, Named>();
  private readonly byName: Record<Family, Map<string, Set<Key>>> = { 4: new Map(), 6: new Map() };
  /** Pods that name some pool by pattern: few, and only these are matched one by one. */
  private readonly withPatterns = new Set<Key>();

  static of(pods: readonly V1Pod[]): PendingPods {
    const index = new PendingPods();
    for (const pod of pods) index.set(keyOf(pod), pod);
    return index;
  }

  /** Records the pod's current state; `undefined` when it is gone or no longer pending. */
  set(key: Key, pod: V1Pod | undefined): void {
    this.delete(key);
    const named = pod && isWaiting(pod) ? namedPools(pod) : undefined;
    if (!named) return;
    this.pods.set(key, named);
    for (const family of [4, 6] as const) {
      for (const name of named.names[family]) {
        const holders = this.byName[family].get(name) ?? new Set<Key>();
        holders.add(key);
        this.byName[family].set(name, holders);
      }
    }
    if (named.patterns[4].length > 0 || named.patterns[6].length > 0) this.withPatterns.add(key);
  }

  /** The waiting pods ("namespace/name") that name any of these pools for the family. */
  naming(family: Family, poolNames: readonly string[]): Set<Key> {
    const found = new Set<Key>();
    for (const name of poolNames) for (const key of this.byName[family].get(name) ?? []) found.add(key);
    for (const key of this.withPatterns) {
      if (found.has(key)) continue;
      const patterns = this.pods.get(key)?.patterns[family] ?? [];
      if (patterns.some((p) => poolNames.some((name) => p.test(name)))) found.add(key);
    }
    return found;
  }

  private delete(key: Key): void {
    const named = this.pods.get(key);
    if (!named) return;
    this.pods.delete(key);
    this.withPatterns.delete(key);
    for (const family of [4, 6] as const) {
      for (const name of named.names[family]) {
        const holders = this.byName[family].get(name);
        holders?.delete(key);
        if (holders?.size === 0) this.byName[family].delete(name);
      }
    }
  }
}
