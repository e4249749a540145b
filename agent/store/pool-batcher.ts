// One writer per SpiderIPPool per agent. Every allocation and release that arrives while a status write
// is in flight is folded into the next write, so N concurrent requests cost one read-modify-write instead
// of N (the apiserver manages about 100 writes/s on one object). Writes carry the resourceVersion they
// were computed from; a 409 means another agent wrote first, and the whole batch is recomputed.
import type { SpiderIPPool } from '../../api/v2beta1/types.ts';
import { formatIP, type IPSet } from '../../lib/ip/index.ts';
import { isConflict, isNotFound } from '../../lib/kube.ts';
import { AgentFailure } from '../errors.ts';
import { assignable, parseRecords, poolFamily, serializeRecords, usedSet } from '../../ipam/records.ts';

export interface PoolStatusClient {
  /** A fresh read of the pool (not from a cache). */
  read(name: string): Promise<SpiderIPPool>;
  /** PUT of the status subresource; must fail with 409 when the resourceVersion is stale. */
  writeStatus(pool: SpiderIPPool): Promise<SpiderIPPool>;
}

export interface BatcherObserver {
  conflict(pool: string): void;
  batch(pool: string, size: number): void;
}

export interface PoolBatcherOptions {
  client: PoolStatusClient;
  reserved: (pool: SpiderIPPool) => IPSet;
  observer?: BatcherObserver;
  /** Spiderpool caps a pool at 5000 records to keep the status object far below etcd's size limit. */
  maxRecords?: number;
  /** How long a batch keeps retrying conflicts before its requests fail with RetriesExhausted. */
  retryBudgetMs?: number;
}

interface Allocate { kind: 'allocate'; pod: string; podUid: string; nic: string; resolve: (ip: string) => void; reject: (e: Error) => void }
interface Release { kind: 'release'; ip: string; podUid: string; resolve: () => void; reject: (e: Error) => void }
interface Rebind { kind: 'rebind'; ip: string; pod: string; podUid: string; resolve: () => void; reject: (e: Error) => void }
type Op = Allocate | Release | Rebind;

/** Thrown to an allocation when the pool has no address left; the caller moves on to its next pool. */
export class PoolExhausted extends Error {
  constructor(readonly pool: string, detail: string) {
    super(`IPPool ${pool}: all IP addresses used out (${detail})`);
  }
}

/** Thrown to a rebind when the address was freed and has since been given to another pod. */
export class AddressTaken extends AgentFailure {
  constructor(pool: string, ip: string, holder: string, wanted: string) {
    super('Internal', `IP ${ip} of IPPool ${pool} now belongs to ${holder}, not ${wanted}`);
  }
}

export class PoolBatcher {
  private pending: Op[] = [];
  private running = false;
  private latest?: SpiderIPPool;

  constructor(readonly poolName: string, private readonly options: PoolBatcherOptions) {}

  /**
   * Takes the lowest free address for one NIC of the pod. A pod UID that already holds an address of this
   * pool for that NIC gets the same one back, so a retried ADD never takes a second address.
   */
  allocate(pod: string, podUid: string, nic: string): Promise<string> {
    return new Promise((resolve, reject) => this.enqueue({ kind: 'allocate', pod, podUid, nic, resolve, reject }));
  }

  /** Frees the address if, and only if, it is still recorded for this pod UID. */
  release(ip: string, podUid: string): Promise<void> {
    return new Promise((resolve, reject) => this.enqueue({ kind: 'release', ip, podUid, resolve, reject }));
  }

  /** Moves a record held by the same pod name to a new pod UID (a StatefulSet pod that was recreated). */
  rebind(ip: string, pod: string, podUid: string): Promise<void> {
    return new Promise((resolve, reject) => this.enqueue({ kind: 'rebind', ip, pod, podUid, resolve, reject }));
  }

  private enqueue(op: Op): void {
    this.pending.push(op);
    if (!this.running) void this.drain();
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.pending.length) await this.apply(this.pending.splice(0));
    } finally {
      this.running = false;
    }
  }

  private async apply(batch: Op[]): Promise<void> {
    const deadline = Date.now() + (this.options.retryBudgetMs ?? 30_000);
    for (let attempt = 0; ; attempt++) {
      try {
        const pool = this.latest ?? await this.options.client.read(this.poolName);
        const computed = this.compute(pool, batch);
        if (computed.changed) {
          this.options.observer?.batch(this.poolName, batch.length);
          this.latest = await this.options.client.writeStatus(computed.pool);
        } else {
          this.latest = pool;
        }
        for (const settle of computed.settle) settle();
        return;
      } catch (err) {
        this.latest = undefined;
        if (isNotFound(err)) {
          // A pool that is gone holds nothing: releasing from it is done, anything else cannot be.
          const gone = new AgentFailure('NoAvailablePool', `IPPool ${this.poolName} does not exist`);
          for (const op of batch) {
            if (op.kind === 'release') op.resolve();
            else op.reject(gone);
          }
          return;
        }
        if (!isConflict(err)) {
          for (const op of batch) op.reject(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        this.options.observer?.conflict(this.poolName);
        if (Date.now() > deadline) {
          const failure = new AgentFailure('RetriesExhausted', `exhaust all retries: ${attempt + 1} conflicting writes to IPPool ${this.poolName}`);
          for (const op of batch) op.reject(failure);
          return;
        }
        // Requests that arrived meanwhile join the retry: the next write carries them too.
        batch.push(...this.pending.splice(0));
        await new Promise((r) => setTimeout(r, Math.min(100, 5 * 2 ** Math.min(attempt, 5)) * (0.5 + Math.random())));
      }
    }
  }

  /** Applies the batch to a copy of the pool; `settle` resolves or rejects each request once written. */
  private compute(pool: SpiderIPPool, batch: Op[]): { pool: SpiderIPPool; changed: boolean; settle: (() => void)[] } {
    const records = parseRecords(pool);
    const settle: (() => void)[] = [];
    let changed = false;

    for (const op of batch) {
      if (op.kind === 'release') {
        if (records.get(op.ip)?.podUid === op.podUid) {
          records.delete(op.ip);
          changed = true;
        }
        settle.push(() => op.resolve());
      } else if (op.kind === 'rebind') {
        const record = records.get(op.ip);
        if (record && record.pod !== op.pod) {
          settle.push(() => op.reject(new AddressTaken(this.poolName, op.ip, record.pod, op.pod)));
          continue;
        }
        if (record?.podUid !== op.podUid) {
          records.set(op.ip, { ...record, pod: op.pod, podUid: op.podUid });
          changed = true;
        }
        settle.push(() => op.resolve());
      }
    }

    const allocations = batch.filter((op): op is Allocate => op.kind === 'allocate');
    if (allocations.length) {
      // Records written without a NIC (by Spiderpool) count for every NIC of their pod.
      const holder = (podUid: string, nic: string) => held.get(`${podUid}/${nic}`) ?? held.get(`${podUid}/`);
      const held = new Map<string, string>();
      for (const [ip, r] of records) held.set(`${r.podUid}/${r.nic ?? ''}`, ip);
      const fresh = allocations.filter((op) => !holder(op.podUid, op.nic));
      const family = poolFamily(pool);
      const max = this.options.maxRecords ?? 5000;
      const free = assignable(pool, this.options.reserved(pool)).subtract(usedSet(family, records));
      const room = Math.max(0, Math.min(fresh.length, max - records.size));
      const taken = free.take(room).map((v) => formatIP(v, family));
      let next = 0;
      for (const op of allocations) {
        const already = holder(op.podUid, op.nic);
        if (already) {
          settle.push(() => op.resolve(already));
          continue;
        }
        const ip = taken[next++];
        if (ip === undefined) {
          const why = records.size >= max ? `the limit of ${max} records is reached` : `${records.size} allocated, none free`;
          settle.push(() => op.reject(new PoolExhausted(this.poolName, why)));
          continue;
        }
        records.set(ip, { pod: op.pod, podUid: op.podUid, nic: op.nic });
        held.set(`${op.podUid}/${op.nic}`, ip);
        changed = true;
        settle.push(() => op.resolve(ip));
      }
    }

    const status = { ...pool.status, allocatedIPCount: records.size };
    const allocatedIPs = serializeRecords(records);
    if (allocatedIPs === undefined) delete status.allocatedIPs;
    else status.allocatedIPs = allocatedIPs;
    return { pool: { ...pool, status }, changed: changed || pool.status?.allocatedIPCount !== records.size, settle };
  }
}
