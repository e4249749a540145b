// The pool and subnet reads of the pool and subnet webhooks: from the caches once the record of admitted writes
// shows they hold every write admitted within its horizon (webhooks/admitted-writes.ts), else the quorum LISTs.
// A check costs one quorum GET of a small ConfigMap instead of a LIST that grows with the pools.
import type { SpiderIPPool, SpiderSubnet } from '../api/v2beta1/types.ts';
import { KINDS } from '../api/v2beta1/kinds.ts';
import type { Informer } from '../lib/watch/informer.ts';
import { type AdmittedRecord, type AdmittedWrite, pendingNotes, reflects } from './admitted-writes.ts';
import type { ClusterView } from './types.ts';

/** How long a check waits for its caches to receive a noted write before it reads from the apiserver. */
const CATCH_UP_MS = 250;

export type ReadSource = 'cache' | 'apiserver';

export interface ProvenViewOptions {
  pools: Informer<SpiderIPPool>;
  subnets: Informer<SpiderSubnet>;
  /** A quorum read of the record. */
  readRecord(): Promise<AdmittedRecord | undefined>;
  consistent: ClusterView;
  onRead?(source: ReadSource): void;
  /** Default HORIZON_MS; shorter only in tests, which cannot wait for a record to age. */
  horizonMs?: number;
}

interface Snapshot {
  pools: SpiderIPPool[];
  subnets: SpiderSubnet[];
}

export function createProvenView(options: ProvenViewOptions): Pick<ClusterView, 'listIPPools' | 'listSubnets'> {
  const { pools, subnets, consistent } = options;
  const caches: Record<string, Informer<SpiderIPPool> | Informer<SpiderSubnet>> = {
    [KINDS.SpiderIPPool.kind]: pools,
    [KINDS.SpiderSubnet.kind]: subnets,
  };
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const w of waiters) w();
  };
  pools.onChange(wake);
  subnets.onChange(wake);

  const holds = (notes: AdmittedWrite[]) =>
    notes.every((n) => {
      const cache = caches[n.kind];
      return cache !== undefined && reflects(n, cache.store.get(n.name));
    });

  const caughtUp = (notes: AdmittedWrite[]): Promise<boolean> =>
    new Promise((resolve) => {
      const check = () => {
        if (!holds(notes)) return;
        finish(true);
      };
      const finish = (result: boolean) => {
        waiters.delete(check);
        clearTimeout(timer);
        resolve(result);
      };
      const timer = setTimeout(() => finish(false), CATCH_UP_MS);
      waiters.add(check);
      check();
    });

  const prove = async (): Promise<Snapshot | undefined> => {
    if (!pools.hasSynced() || !subnets.hasSynced()) return undefined;
    const notes = pendingNotes(await options.readRecord(), Date.now(), options.horizonMs);
    if (!notes || !(await caughtUp(notes))) return undefined;
    return { pools: pools.store.list(), subnets: subnets.store.list() };
  };

  // The pool and subnet lists of one check are asked for together: they share one proof, which began after both.
  let current: Promise<Snapshot | undefined> | undefined;
  const snapshot = () => {
    if (!current) {
      current = prove();
      queueMicrotask(() => (current = undefined));
    }
    return current;
  };
  const read = async <T>(pick: (s: Snapshot) => T, otherwise: () => Promise<T>): Promise<T> => {
    const proven = await snapshot().catch(() => undefined);
    options.onRead?.(proven ? 'cache' : 'apiserver');
    return proven ? pick(proven) : otherwise();
  };
  return {
    listIPPools: () => read((s) => s.pools, consistent.listIPPools),
    listSubnets: () => read((s) => s.subnets, consistent.listSubnets),
  };
}
