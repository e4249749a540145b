// The batching logic against an in-memory status store that enforces resourceVersions like the
// apiserver does. The real-apiserver behaviour is covered by the agent's integration tests.
import assert from 'node:assert/strict';
import { ApiException } from '@kubernetes/client-node';
import type { SpiderIPPool } from '../../api/v2beta1/types.ts';
import { IPSet } from '../../lib/ip/index.ts';
import { AddressTaken, PoolBatcher, PoolExhausted, RELEASE_LINGER_MS } from './pool-batcher.ts';
import type { PoolStatusClient } from '../../ipam/retry.ts';
import { parseRecords } from '../../ipam/records.ts';

class MemoryPool implements PoolStatusClient {
  writes = 0;
  conflicts = 0;
  /** Writes that another agent slips in before ours, to provoke 409s. */
  foreignWrites = 0;
  constructor(public pool: SpiderIPPool) {}
  async read(): Promise<SpiderIPPool> {
    return structuredClone(this.pool);
  }
  async writeStatus(next: SpiderIPPool): Promise<SpiderIPPool> {
    await new Promise((r) => setTimeout(r, 2));
    if (this.foreignWrites > 0) {
      this.foreignWrites--;
      this.pool = {
        ...this.pool,
        metadata: { ...this.pool.metadata, resourceVersion: String(Number(this.pool.metadata.resourceVersion) + 1) },
      };
    }
    if (next.metadata.resourceVersion !== this.pool.metadata.resourceVersion) {
      this.conflicts++;
      throw new ApiException(409, 'Conflict', '{"reason":"Conflict"}', {});
    }
    this.writes++;
    this.pool = {
      ...structuredClone(next),
      metadata: { ...next.metadata, resourceVersion: String(Number(next.metadata.resourceVersion) + 1) },
    };
    return structuredClone(this.pool);
  }
}

const pool = (spec: Partial<SpiderIPPool['spec']>, allocatedIPs?: string): SpiderIPPool => ({
  apiVersion: 'spiderpool.spidernet.io/v2beta1',
  kind: 'SpiderIPPool',
  metadata: { name: 'p', resourceVersion: '1' },
  spec: { subnet: '10.6.0.0/16', ips: ['10.6.0.10-10.6.0.19'], ...spec },
  ...(allocatedIPs ? { status: { allocatedIPs } } : {}),
});

const noneReserved = () => IPSet.empty(4);

describe('PoolBatcher', () => {
  it('folds concurrent allocations into one status write with the lowest free addresses', async () => {
    const store = new MemoryPool(pool({}));
    const b = new PoolBatcher('p', { client: store, reserved: noneReserved });
    const ips = await Promise.all(
      Array.from({ length: 8 }, (_, i) => b.allocate(`ns/pod${i}`, `uid${i}`, 'eth0').then((a) => a.ip)),
    );
    assert.deepEqual([...ips].sort(), [
      '10.6.0.10',
      '10.6.0.11',
      '10.6.0.12',
      '10.6.0.13',
      '10.6.0.14',
      '10.6.0.15',
      '10.6.0.16',
      '10.6.0.17',
    ]);
    assert.equal(store.writes, 2, 'the first request writes alone, the seven that arrived meanwhile share one write');
    assert.equal(store.pool.status?.allocatedIPCount, 8);
    assert.equal(parseRecords(store.pool).get('10.6.0.13')?.pod, 'ns/pod3');
  });

  it("starts from the watch's copy when another agent wrote after this one, so its first write is not refused", async () => {
    const store = new MemoryPool(pool({}));
    let reads = 0;
    const client: PoolStatusClient = {
      read: () => (reads++, store.read()),
      writeStatus: (next) => store.writeStatus(next),
    };
    const b = new PoolBatcher('p', { client, reserved: noneReserved, watched: () => structuredClone(store.pool) });
    await b.allocate('ns/a', 'a', 'eth0');
    // Another agent's write, which this agent learns of from its watch only.
    store.pool = {
      ...store.pool,
      metadata: { ...store.pool.metadata, resourceVersion: String(Number(store.pool.metadata.resourceVersion) + 1) },
    };
    assert.equal((await b.allocate('ns/b', 'b', 'eth0')).ip, '10.6.0.11');
    assert.equal(store.conflicts, 0);
    assert.equal(reads, 0);
    assert.equal(store.writes, 2);
  });

  it('fails a request for conflicts only once its own budget is spent, not the batch it joined late', async () => {
    const store = new MemoryPool(pool({}));
    store.foreignWrites = Number.MAX_SAFE_INTEGER;
    const b = new PoolBatcher('p', { client: store, reserved: noneReserved, retryBudgetMs: 200 });
    const early = b.allocate('ns/early', 'early', 'eth0');
    await new Promise((r) => setTimeout(r, 150));
    const late = b.allocate('ns/late', 'late', 'eth0');
    await assert.rejects(early, /RetriesExhausted|exhaust all retries/);
    const settled = await Promise.race([late.then(() => 'taken'), new Promise((r) => setTimeout(r, 60, 'pending'))]);
    assert.equal(settled, 'pending', 'the allocation that arrived 150 ms into the batch still has budget left');
    store.foreignWrites = 0;
    assert.equal((await late).ip, '10.6.0.10');
  });

  it('retries a release through conflicts past the budget, until it is written', async () => {
    const store = new MemoryPool(pool({}, JSON.stringify({ '10.6.0.10': { pod: 'ns/old', podUid: 'old' } })));
    store.foreignWrites = Number.MAX_SAFE_INTEGER;
    const b = new PoolBatcher('p', { client: store, reserved: noneReserved, retryBudgetMs: 100 });
    const release = b.release('10.6.0.10', 'old');
    const settled = await Promise.race([
      release.then(
        () => 'released',
        () => 'failed',
      ),
      new Promise((r) => setTimeout(r, 400, 'pending')),
    ]);
    assert.equal(settled, 'pending', 'four budgets of refusals later');
    store.foreignWrites = 0;
    assert.equal(await release, true);
    assert.equal(parseRecords(store.pool).size, 0);
  });

  it('never hands out excluded, reserved or gateway addresses', async () => {
    const store = new MemoryPool(pool({ ips: ['10.6.0.1-10.6.0.6'], excludeIPs: ['10.6.0.2'], gateway: '10.6.0.1' }));
    const b = new PoolBatcher('p', { client: store, reserved: () => IPSet.fromRanges(['10.6.0.3-10.6.0.4']) });
    const ips = await Promise.all(['a', 'b'].map((n) => b.allocate(`ns/${n}`, n, 'eth0').then((a) => a.ip)));
    assert.deepEqual(ips, ['10.6.0.5', '10.6.0.6']);
    await assert.rejects(
      b.allocate('ns/c', 'c', 'eth0'),
      (e: unknown) => e instanceof PoolExhausted && /IPPool p: all IP addresses used out/.test(e.message),
    );
  });

  it('gives a pod UID the address it already holds for that NIC, and a different one for another NIC', async () => {
    const store = new MemoryPool(pool({}));
    const b = new PoolBatcher('p', { client: store, reserved: noneReserved });
    const first = await b.allocate('ns/a', 'uid-a', 'eth0');
    const [again, other] = await Promise.all([
      b.allocate('ns/a', 'uid-a', 'eth0'),
      b.allocate('ns/a', 'uid-a', 'net1'),
    ]);
    assert.deepEqual(first, { ip: '10.6.0.10', fresh: true });
    assert.deepEqual(again, { ip: '10.6.0.10', fresh: false }, 'an address the UID already holds is not new');
    assert.deepEqual(other, { ip: '10.6.0.11', fresh: true });
    assert.equal(store.pool.status?.allocatedIPCount, 2);
  });

  it('retries conflicts and recomputes, so no address is given twice', async () => {
    const store = new MemoryPool(pool({}, JSON.stringify({ '10.6.0.10': { pod: 'ns/x', podUid: 'x' } })));
    store.foreignWrites = 3;
    const b = new PoolBatcher('p', { client: store, reserved: noneReserved });
    const ips = await Promise.all(['a', 'b', 'c'].map((n) => b.allocate(`ns/${n}`, n, 'eth0').then((a) => a.ip)));
    assert.equal(new Set(ips).size, 3);
    assert.ok(!ips.includes('10.6.0.10'));
    assert.equal(store.conflicts, 3);
    assert.equal(store.pool.status?.allocatedIPCount, 4);
  });

  it('releases only records that still belong to the releasing UID', async () => {
    const store = new MemoryPool(
      pool(
        {},
        JSON.stringify({ '10.6.0.10': { pod: 'ns/a', podUid: 'new-uid' }, '10.6.0.11': { pod: 'ns/b', podUid: 'b' } }),
      ),
    );
    const b = new PoolBatcher('p', { client: store, reserved: noneReserved });
    await Promise.all([b.release('10.6.0.10', 'old-uid'), b.release('10.6.0.11', 'b')]);
    assert.deepEqual([...parseRecords(store.pool).keys()], ['10.6.0.10']);
    assert.equal(store.pool.status?.allocatedIPCount, 1);
  });

  it('rebinds a StatefulSet record to the new UID but refuses one held by another pod', async () => {
    const store = new MemoryPool(
      pool(
        {},
        JSON.stringify({
          '10.6.0.10': { pod: 'ns/web-0', podUid: 'old' },
          '10.6.0.11': { pod: 'ns/other', podUid: 'o' },
        }),
      ),
    );
    const b = new PoolBatcher('p', { client: store, reserved: noneReserved });
    await b.rebind('10.6.0.10', 'ns/web-0', 'new');
    assert.equal(parseRecords(store.pool).get('10.6.0.10')?.podUid, 'new');
    await assert.rejects(
      b.rebind('10.6.0.11', 'ns/web-0', 'new'),
      (e: unknown) => e instanceof AddressTaken && /now belongs to ns\/other/.test(e.message),
    );
  });

  it('treats a release from a deleted pool as done and refuses allocations from it', async () => {
    const gone: PoolStatusClient = {
      read: () => Promise.reject(new ApiException(404, 'Not Found', '{"reason":"NotFound"}', {})),
      writeStatus: () => Promise.reject(new Error('never written')),
    };
    const b = new PoolBatcher('p', { client: gone, reserved: () => IPSet.empty(4) });
    await b.release('10.6.0.10', 'uid-a');
    await assert.rejects(b.allocate('ns/a', 'uid-a', 'eth0'), /IPPool p does not exist/);
  });

  it('respects the per-pool record limit', async () => {
    const store = new MemoryPool(pool({}));
    const b = new PoolBatcher('p', { client: store, reserved: noneReserved, maxRecords: 2 });
    const results = await Promise.allSettled(['a', 'b', 'c'].map((n) => b.allocate(`ns/${n}`, n, 'eth0')));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 2);
    const refused = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.match(String(refused?.reason.message), /limit of 2 records/);
  });

  it('allocates from an IPv6 /64 without expanding it', async () => {
    const store = new MemoryPool(
      pool({
        subnet: 'fd00:10:6::/64',
        ips: ['fd00:10:6::-fd00:10:6:0:ffff:ffff:ffff:ffff'],
        gateway: 'fd00:10:6::1',
        ipVersion: 6,
      }),
    );
    const b = new PoolBatcher('p', { client: store, reserved: () => IPSet.empty(6) });
    const ips = await Promise.all(['a', 'b', 'c'].map((n) => b.allocate(`ns/${n}`, n, 'eth0').then((a) => a.ip)));
    assert.deepEqual(ips, ['fd00:10:6::', 'fd00:10:6::2', 'fd00:10:6::3']);
  });

  it('hung-write-frees-writer: a write that never answers holds the writer no longer than the deadline', async () => {
    const store = new MemoryPool(pool({}));
    const write = store.writeStatus.bind(store);
    let hang = 3; // the first write and both re-reads' writes never answer
    store.writeStatus = (next) => (hang-- > 0 ? new Promise(() => {}) : write(next));
    const b = new PoolBatcher('p', { client: store, reserved: noneReserved, callTimeoutMs: 50 });
    const started = Date.now();
    const first = b.allocate('ns/a', 'a', 'eth0');
    const queued = b.allocate('ns/b', 'b', 'eth0');
    await assert.rejects(first, /no answer within 50 ms/);
    await assert.rejects(queued, /no answer within 50 ms/, 'the request that joined its retries fails with it');
    assert.ok(Date.now() - started < 1000, `${Date.now() - started} ms`);
    assert.deepEqual(await b.allocate('ns/c', 'c', 'eth0'), { ip: '10.6.0.10', fresh: true }, 'the writer is free');
  });

  it('unknown-write-outcome-rereads: a write that committed without an answer is found on the re-read', async () => {
    const store = new MemoryPool(pool({}));
    const write = store.writeStatus.bind(store);
    let lose = 1;
    store.writeStatus = async (next) => {
      const written = await write(next);
      if (lose-- > 0) throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      return written;
    };
    const b = new PoolBatcher('p', { client: store, reserved: noneReserved });
    assert.deepEqual(await b.allocate('ns/a', 'a', 'eth0'), { ip: '10.6.0.10', fresh: true });
    assert.deepEqual(Object.keys(Object.fromEntries(parseRecords(store.pool))), ['10.6.0.10'], 'taken once');
    assert.equal(store.writes, 1);
  });

  describe('releases on their way', () => {
    const held = (n: number) =>
      JSON.stringify(
        Object.fromEntries(
          Array.from({ length: n }, (_, i) => [`10.6.0.${10 + i}`, { pod: `ns/pod${i}`, podUid: `uid${i}` }]),
        ),
      );

    it('are waited for, so that releases announced together share one write', async () => {
      const store = new MemoryPool(pool({}, held(5)));
      const b = new PoolBatcher('p', { client: store, reserved: noneReserved });
      const announced = Array.from({ length: 5 }, () => b.expectRelease());
      const released = announced.map(async (a, i) => {
        await new Promise((r) => setTimeout(r, 10 * i));
        a.arrived();
        return b.release(`10.6.0.${10 + i}`, `uid${i}`);
      });
      assert.deepEqual(await Promise.all(released), [true, true, true, true, true]);
      assert.equal(store.writes, 1, 'the first release waited for the four announced after it');
      assert.equal(store.pool.status?.allocatedIPs, undefined);
    });

    it('are waited for no longer than RELEASE_LINGER_MS, and one called off ends the wait', async () => {
      const store = new MemoryPool(pool({}, held(2)));
      const b = new PoolBatcher('p', { client: store, reserved: noneReserved });
      const lost = b.expectRelease();
      let started = Date.now();
      assert.equal(await b.release('10.6.0.10', 'uid0'), true);
      const waited = Date.now() - started;
      assert.ok(waited >= RELEASE_LINGER_MS - 5 && waited < RELEASE_LINGER_MS + 500, `waited ${waited} ms`);
      lost.arrived();
      const late = b.expectRelease();
      started = Date.now();
      setTimeout(() => late.arrived(), 20);
      assert.equal(await b.release('10.6.0.11', 'uid1'), true);
      assert.ok(Date.now() - started < RELEASE_LINGER_MS, 'called off after 20 ms');
      assert.equal(store.writes, 2);
    });

    it('never hold up an allocation, nor a release when none is announced', async () => {
      const store = new MemoryPool(pool({}, held(1)));
      const b = new PoolBatcher('p', { client: store, reserved: noneReserved });
      let started = Date.now();
      assert.equal(await b.release('10.6.0.10', 'uid0'), true);
      assert.ok(Date.now() - started < RELEASE_LINGER_MS / 2, 'no announcement, no wait');
      const announced = b.expectRelease();
      started = Date.now();
      const allocated = await b.allocate('ns/new', 'uid-new', 'eth0');
      assert.equal(allocated.ip, '10.6.0.10');
      assert.ok(Date.now() - started < RELEASE_LINGER_MS / 2, 'an allocation is written at once');
      announced.arrived();
    });
  });
});
