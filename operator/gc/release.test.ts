// Record removal against an in-memory status store that enforces resourceVersions like the apiserver;
// the real apiserver is exercised by e2e/gc.test.ts.
import assert from 'node:assert/strict';
import { ApiException } from '@kubernetes/client-node';
import type { SpiderEndpoint, SpiderIPPool } from '../../api/v2beta1/types.ts';
import { FINALIZER } from '../../api/v2beta1/constants.ts';
import { withoutRecords } from '../../ipam/pool-status.ts';
import type { PoolStatusClient } from '../../ipam/retry.ts';
import { parseRecords } from '../../ipam/records.ts';
import { releaseRecords, retireEndpoint, type EndpointClient } from './release.ts';

const pool = (records: Record<string, { pod: string; podUid: string }>, resourceVersion = '1'): SpiderIPPool => ({
  metadata: { name: 'p4', resourceVersion },
  spec: { subnet: '10.0.0.0/24', ips: ['10.0.0.1-10.0.0.100'] },
  status: { allocatedIPs: JSON.stringify(records), allocatedIPCount: Object.keys(records).length },
});

class MemoryPool implements PoolStatusClient {
  writes = 0;
  /** Status writes by someone else that land just before each of ours. */
  interleaved: ((p: SpiderIPPool) => SpiderIPPool)[] = [];
  constructor(public pool: SpiderIPPool) {}
  async read(): Promise<SpiderIPPool> {
    return structuredClone(this.pool);
  }
  async writeStatus(next: SpiderIPPool): Promise<SpiderIPPool> {
    const other = this.interleaved.shift();
    if (other)
      this.pool = {
        ...other(this.pool),
        metadata: { ...this.pool.metadata, resourceVersion: String(Number(this.pool.metadata.resourceVersion) + 1) },
      };
    if (next.metadata.resourceVersion !== this.pool.metadata.resourceVersion)
      throw new ApiException(409, 'Conflict', '{"reason":"Conflict"}', {});
    this.writes++;
    this.pool = {
      ...structuredClone(next),
      metadata: { ...next.metadata, resourceVersion: String(Number(next.metadata.resourceVersion) + 1) },
    };
    return structuredClone(this.pool);
  }
}

describe('GC record removal', () => {
  it('does not write when nothing is removed', async () => {
    const store = new MemoryPool(pool({ '10.0.0.1': { pod: 'ns/a', podUid: 'u1' } }));
    assert.deepEqual(await releaseRecords(store, 'p4', [{ ip: '10.0.0.1', podUid: 'u0' }]), []);
    assert.equal(store.writes, 0);
  });

  it('retries on 409 from a fresh read, and spares a record that moved to another UID meanwhile', async () => {
    const store = new MemoryPool(
      pool({ '10.0.0.1': { pod: 'ns/a', podUid: 'u1' }, '10.0.0.2': { pod: 'ns/web-0', podUid: 'old' } }),
    );
    // An agent rebinds web-0 to its new UID, and allocates .3, between our read and our write.
    store.interleaved.push(
      (p) => withoutRecords(p, []).pool,
      (p) => {
        const records = parseRecords(p);
        records.set('10.0.0.2', { pod: 'ns/web-0', podUid: 'new' });
        records.set('10.0.0.3', { pod: 'ns/d', podUid: 'u4' });
        return {
          ...p,
          status: { allocatedIPs: JSON.stringify(Object.fromEntries(records)), allocatedIPCount: records.size },
        };
      },
    );
    let conflicts = 0;
    const freed = await releaseRecords(
      store,
      'p4',
      [
        { ip: '10.0.0.1', podUid: 'u1' },
        { ip: '10.0.0.2', podUid: 'old' },
      ],
      { onConflict: () => conflicts++ },
    );
    assert.deepEqual(freed, ['10.0.0.1']);
    assert.equal(conflicts, 2);
    assert.deepEqual(Object.fromEntries(parseRecords(store.pool)), {
      '10.0.0.2': { pod: 'ns/web-0', podUid: 'new' },
      '10.0.0.3': { pod: 'ns/d', podUid: 'u4' },
    });
    assert.equal(store.pool.status?.allocatedIPCount, 2);
  });

  it('gives up with the 409 once the retry budget is spent', async () => {
    const store = new MemoryPool(pool({ '10.0.0.1': { pod: 'ns/a', podUid: 'u1' } }));
    store.interleaved = Array.from({ length: 1000 }, () => (p: SpiderIPPool) => p);
    await assert.rejects(
      releaseRecords(store, 'p4', [{ ip: '10.0.0.1', podUid: 'u1' }], { retryBudgetMs: 50 }),
      (e: ApiException<unknown>) => e.code === 409,
    );
  });

  it('treats a deleted pool as nothing to free', async () => {
    const gone: PoolStatusClient = {
      read: () => Promise.reject(new ApiException(404, 'NotFound', '{}', {})),
      writeStatus: () => Promise.reject(new Error('no write expected')),
    };
    assert.deepEqual(await releaseRecords(gone, 'p4', [{ ip: '10.0.0.1', podUid: 'u1' }]), []);
  });
});

describe('GC endpoint retirement', () => {
  const endpoint = (resourceVersion: string, deletionTimestamp?: Date): SpiderEndpoint => ({
    metadata: {
      namespace: 'ns',
      name: 'db-1',
      uid: 'e1',
      resourceVersion,
      finalizers: [FINALIZER],
      ...(deletionTimestamp ? { deletionTimestamp } : {}),
    },
    status: {
      current: { uid: 'p1', node: 'n', ips: [] },
      ownerControllerType: 'StatefulSet',
      ownerControllerName: 'db',
    },
  });
  const conflict = () => Promise.reject(new ApiException(409, 'Conflict', '{"reason":"Conflict"}', {}));
  const client = (current: SpiderEndpoint | undefined, writes: string[]): EndpointClient => ({
    endpoint: async () => current,
    deleteEndpoint: conflict,
    replaceEndpoint: async (e) => {
      writes.push(e.metadata.name);
      return e;
    },
  });

  it('counts an endpoint another collector is already deleting as gone, and leaves its finalizer to that one', async () => {
    const writes: string[] = [];
    assert.equal(await retireEndpoint(client(endpoint('2', new Date()), writes), endpoint('1')), 'gone');
    assert.deepEqual(writes, []);
  });

  it('reports an endpoint rewritten since it was read as changed, and touches nothing', async () => {
    const writes: string[] = [];
    assert.equal(await retireEndpoint(client(endpoint('2'), writes), endpoint('1')), 'changed');
    assert.deepEqual(writes, []);
  });
});
