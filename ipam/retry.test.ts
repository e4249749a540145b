import assert from 'node:assert/strict';
import { ApiException } from '@kubernetes/client-node';
import type { SpiderIPPool } from '../api/v2beta1/types.ts';
import { isNewer, updatePoolStatus, type PoolStatusClient, type RetryPolicy } from './retry.ts';

const policy: RetryPolicy = { budgetMs: 1000, firstPauseMs: 1, maxPauseMs: 2 };
const status = (code: number) => new ApiException(code, String(code), '{}', {});
const at = (resourceVersion: string, allocatedIPCount = 0): SpiderIPPool => ({
  metadata: { name: 'p', resourceVersion },
  spec: { subnet: '10.0.0.0/24' },
  status: { allocatedIPCount },
});

/** A pool at resourceVersion 1 that another writer moves on before each of our first `foreign` writes. */
class Store implements PoolStatusClient {
  reads = 0;
  written: SpiderIPPool[] = [];
  constructor(
    public pool: SpiderIPPool,
    public foreign = 0,
  ) {}
  async read(): Promise<SpiderIPPool> {
    this.reads++;
    return this.pool;
  }
  async writeStatus(next: SpiderIPPool): Promise<SpiderIPPool> {
    if (this.foreign > 0) {
      this.foreign--;
      this.pool = at(String(Number(this.pool.metadata.resourceVersion) + 1), this.pool.status?.allocatedIPCount);
    }
    if (next.metadata.resourceVersion !== this.pool.metadata.resourceVersion) throw status(409);
    this.written.push(next);
    this.pool = {
      ...next,
      metadata: { ...next.metadata, resourceVersion: String(Number(next.metadata.resourceVersion) + 1) },
    };
    return this.pool;
  }
}

const increment = (pool: SpiderIPPool, attempt: number) => ({
  next: { ...pool, status: { allocatedIPCount: (pool.status?.allocatedIPCount ?? 0) + 1 } },
  result: attempt,
});

describe('updatePoolStatus', () => {
  it('recomputes from a fresh read after each 409 and returns the pool as written', async () => {
    const store = new Store(at('1'), 2);
    let conflicts = 0;
    const updated = await updatePoolStatus(store, 'p', increment, { policy, onConflict: () => conflicts++ });
    assert.deepEqual(updated, { gone: false, pool: at('4', 1), result: 2 });
    assert.equal(conflicts, 2);
    assert.equal(store.reads, 3);
    assert.equal(store.written.length, 1);
  });

  it('starts from the cached pool without a read, and reads once that turns out stale', async () => {
    const store = new Store(at('5'));
    assert.deepEqual(await updatePoolStatus(store, 'p', increment, { policy, cached: at('5') }), {
      gone: false,
      pool: at('6', 1),
      result: 0,
    });
    assert.equal(store.reads, 0);
    assert.deepEqual(await updatePoolStatus(store, 'p', increment, { policy, cached: at('5') }), {
      gone: false,
      pool: at('7', 2),
      result: 1,
    });
    assert.equal(store.reads, 1);
  });

  it('after a 409 retries from a newer copy the watch delivered, without a read; an older copy is not used', async () => {
    const store = new Store(at('5'), 1);
    const offered: string[] = [];
    const updated = await updatePoolStatus(store, 'p', increment, {
      policy,
      cached: at('5'),
      newer: (refused) => {
        offered.push(refused.metadata.resourceVersion as string);
        return isNewer(store.pool, refused) ? store.pool : undefined;
      },
    });
    assert.deepEqual(updated, { gone: false, pool: at('7', 1), result: 1 });
    assert.deepEqual(offered, ['5']);
    assert.equal(store.reads, 0);

    const behind = new Store(at('9'), 1);
    await updatePoolStatus(behind, 'p', increment, { policy, cached: at('9'), newer: () => undefined });
    assert.equal(behind.reads, 1, 'no newer copy: the retry reads');
  });

  it('reads after a watch copy was refused too, so a lagging watch cannot keep a writer losing', async () => {
    const store = new Store(at('5'), 3);
    let offered = 0;
    const lagging = (refused: SpiderIPPool) => (offered++, at(String(Number(refused.metadata.resourceVersion) + 1)));
    await updatePoolStatus(store, 'p', increment, { policy, cached: at('5'), newer: lagging });
    // Refused: the cached copy (a watch copy offered), that copy (a read), the read (a watch copy offered), then
    // that copy is written.
    assert.equal(offered, 2);
    assert.equal(store.reads, 1);
  });

  it('orders resourceVersions only when both are etcd revisions', () => {
    assert.equal(isNewer(at('10'), at('9')), true);
    assert.equal(isNewer(at('9'), at('10')), false);
    assert.equal(isNewer(at('9'), at('9')), false);
    assert.equal(isNewer(at('a10'), at('9')), false);
    assert.equal(isNewer(at('10'), at('')), false);
  });

  it('writes nothing when the computation has nothing to write', async () => {
    const store = new Store(at('1'));
    assert.deepEqual(await updatePoolStatus(store, 'p', () => ({ result: 'same' }), { policy }), {
      gone: false,
      pool: at('1'),
      result: 'same',
    });
    assert.equal(store.written.length, 0);
  });

  it('reports a pool that is gone, on the read or on the write', async () => {
    const noPool: PoolStatusClient = {
      read: () => Promise.reject(status(404)),
      writeStatus: () => Promise.reject(new Error('no write expected')),
    };
    assert.deepEqual(await updatePoolStatus(noPool, 'p', increment, { policy }), { gone: true });
    const deletedMeanwhile: PoolStatusClient = {
      read: async () => at('1'),
      writeStatus: () => Promise.reject(status(404)),
    };
    assert.deepEqual(await updatePoolStatus(deletedMeanwhile, 'p', increment, { policy }), { gone: true });
  });

  it('throws the last 409 once the budget is spent, having reported every conflict', async () => {
    const store = new Store(at('1'), Number.MAX_SAFE_INTEGER);
    let conflicts = 0;
    await assert.rejects(
      updatePoolStatus(store, 'p', increment, { policy: { ...policy, budgetMs: 20 }, onConflict: () => conflicts++ }),
      (e: ApiException<unknown>) => e.code === 409,
    );
    assert.equal(conflicts, store.reads);
    assert.ok(conflicts > 1);
  });

  it('throws any other error at once, from the client or the computation', async () => {
    const broken: PoolStatusClient = { read: async () => at('1'), writeStatus: () => Promise.reject(status(500)) };
    await assert.rejects(
      updatePoolStatus(broken, 'p', increment, { policy }),
      (e: ApiException<unknown>) => e.code === 500,
    );
    const store = new Store(at('1'));
    await assert.rejects(
      updatePoolStatus(
        store,
        'p',
        () => {
          throw new Error('bad allocatedIPs');
        },
        { policy },
      ),
      /bad allocatedIPs/,
    );
    assert.equal(store.reads, 1);
  });
});
