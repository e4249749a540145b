import assert from 'node:assert/strict';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { SpiderIPPool, SpiderSubnet } from '../api/v2beta1/types.ts';
import type { Informer } from '../lib/watch/informer.ts';
import { type Change, Store } from '../lib/watch/store.ts';
import { type AdmittedRecord, HORIZON_MS } from './admitted-writes.ts';
import { type ReadSource, createProvenView } from './proven-view.ts';
import type { ClusterView } from './types.ts';

/** The part of an informer the view uses: a store, its sync state and its change listeners. */
class FakeInformer<T extends KubernetesObject> {
  readonly store = new Store<T>();
  synced = true;
  private readonly listeners: ((c: Change<T>) => void)[] = [];
  hasSynced = () => this.synced;
  onChange(listener: (c: Change<T>) => void) {
    this.listeners.push(listener);
  }
  put(obj: T) {
    const change = this.store.put(obj);
    for (const l of this.listeners) l(change);
  }
}

const pool = (name: string, uid: string, generation = 1) =>
  ({ metadata: { name, uid, generation }, spec: { subnet: '10.0.0.0/24' } }) as SpiderIPPool;

function setup(record: AdmittedRecord | undefined) {
  const pools = new FakeInformer<SpiderIPPool>();
  const subnets = new FakeInformer<SpiderSubnet>();
  const sources: ReadSource[] = [];
  let recordReads = 0;
  const fromApiserver = [pool('from-apiserver', 'x')];
  const consistent = {
    listIPPools: async () => fromApiserver,
    listSubnets: async () => [],
  } as unknown as ClusterView;
  const view = createProvenView({
    pools: pools as unknown as Informer<SpiderIPPool>,
    subnets: subnets as unknown as Informer<SpiderSubnet>,
    readRecord: async () => {
      recordReads++;
      return record;
    },
    consistent,
    onRead: (s) => sources.push(s),
  });
  return { pools, subnets, view, sources, recordReads: () => recordReads };
}

// Ages are taken when a test runs: the suite loads this file long before it runs it.
const aged = (writes: AdmittedRecord['writes']): AdmittedRecord => ({
  writes,
  incompleteUntil: 0,
  since: Date.now() - HORIZON_MS,
});
const noted = (uid: string, generation = 1) => ({
  kind: 'SpiderIPPool',
  name: `pool-${uid}`,
  uid,
  generation,
  at: Date.now(),
});

describe('pool and subnet reads proven by the record of admitted writes', () => {
  it('answers from the caches when they hold every noted write, with one record read for both lists', async () => {
    const { pools, view, sources, recordReads } = setup(aged([noted('a')]));
    pools.put(pool('pool-a', 'a'));
    const [listed] = await Promise.all([view.listIPPools(), view.listSubnets()]);
    assert.deepEqual(
      listed.map((p) => p.metadata.name),
      ['pool-a'],
    );
    assert.deepEqual(sources, ['cache', 'cache']);
    assert.equal(recordReads(), 1);
  });

  it('waits for a noted write to reach the cache', async () => {
    const { pools, view, sources } = setup(aged([noted('a', 2)]));
    pools.put(pool('pool-a', 'a', 1));
    const listing = view.listIPPools();
    setTimeout(() => pools.put(pool('pool-a', 'a', 2)), 20);
    assert.equal((await listing)[0]?.metadata.generation, 2);
    assert.deepEqual(sources, ['cache']);
  });

  it('reads from the apiserver when the cache does not catch up, the record is missing or young, or the cache has not synced', async () => {
    const stalled = setup(aged([noted('a')]));
    assert.equal((await stalled.view.listIPPools())[0]?.metadata.name, 'from-apiserver');
    for (const record of [undefined, { ...aged([]), since: Date.now() }]) {
      const s = setup(record);
      assert.equal((await s.view.listIPPools())[0]?.metadata.name, 'from-apiserver');
    }
    const unsynced = setup(aged([]));
    unsynced.pools.synced = false;
    assert.equal((await unsynced.view.listIPPools())[0]?.metadata.name, 'from-apiserver');
    assert.equal(unsynced.recordReads(), 0);
    assert.deepEqual(stalled.sources, ['apiserver']);
  });
});
