// The allocation rules applied to one pool's records. Pure: the agent's batcher and the garbage collector
// read and write the pool themselves and call these on every attempt, so a retry after a conflict
// recomputes from the pool as it is now.
import type { SpiderIPPool } from '../api/v2beta1/types.ts';
import { IPSet, formatIP, parseIP } from '../lib/ip/index.ts';
import { assignable, poolFamily, readRecords, serializeRecords, usedSet, type ReadRecords } from './records.ts';

/** Spiderpool caps a pool at 5000 records to keep the status object far below etcd's size limit. */
const MAX_POOL_RECORDS = 5000;

export type PoolOp =
  | { kind: 'allocate'; pod: string; podUid: string; nic: string }
  | { kind: 'release'; ip: string; podUid: string }
  /**
   * Records the address for the pod UID. `exclusive`: only if it is free or already this UID's (a repeated ADD
   * restoring what its endpoint shows); otherwise a record of the same pod name may move to the new UID (a
   * recreated StatefulSet pod).
   */
  | { kind: 'rebind'; ip: string; pod: string; podUid: string; exclusive?: boolean };

export type OpOutcome =
  /** `ip`: the address allocated, released or rebound; `changed`: whether the records changed for it. */
  | { kind: 'done'; ip: string; changed: boolean }
  | { kind: 'exhausted'; detail: string }
  /** A rebind of an address that was freed and has since been given to another pod, or to another pool. */
  | { kind: 'taken'; ip: string; holder: string; wanted: string };

export interface AllocationRules {
  /** Addresses that are never handed out (SpiderReservedIPs of the pool's family). */
  reserved: (pool: SpiderIPPool) => IPSet;
  /**
   * Addresses that other pools covering them have recorded. Pools created at the same instant can overlap
   * (no admission check sees the other), and an address must still go to one pod only.
   */
  elsewhere?: (pool: SpiderIPPool) => IPSet;
  maxRecords?: number;
}

export interface PoolUpdate {
  pool: SpiderIPPool;
  /** Whether the status differs from the input's and must be written. */
  changed: boolean;
  /** One per op, in the same order. */
  outcomes: OpOutcome[];
  /** Malformed entries of the status, left as they are (readRecords). */
  problems: string[];
}

/** The pool with its status rebuilt from the records; malformed entries are written back as they were. */
function withRecords(pool: SpiderIPPool, { records, malformed }: ReadRecords): SpiderIPPool {
  const status = { ...pool.status, allocatedIPCount: records.size };
  const allocatedIPs = serializeRecords(records, malformed);
  if (allocatedIPs === undefined) delete status.allocatedIPs;
  else status.allocatedIPs = allocatedIPs;
  return { ...pool, status };
}

/** A record goes only while it holds the releasing UID: it may have moved to a live pod meanwhile. */
function release({ records }: ReadRecords, ip: string, podUid: string): OpOutcome {
  const changed = records.get(ip)?.podUid === podUid;
  if (changed) records.delete(ip);
  return { kind: 'done', ip, changed };
}

function rebind(read: ReadRecords, op: Rebind, elsewhere: IPSet): OpOutcome {
  const { ip, pod, podUid } = op;
  const record = read.records.get(ip);
  const taken = (holder: string): OpOutcome => ({ kind: 'taken', ip, holder, wanted: pod });
  if (record && record.pod !== pod) return taken(record.pod);
  if (record && op.exclusive && record.podUid !== podUid) return taken(`UID ${record.podUid}`);
  if (!record) {
    const value = parseIP(ip).value;
    if (read.blocked.includes(value)) return taken('a malformed record');
    if (elsewhere.contains(value)) return taken('another IPPool that covers it');
  }
  const changed = record?.podUid !== podUid;
  if (changed) read.records.set(ip, { ...record, pod, podUid });
  return { kind: 'done', ip, changed };
}

type Allocate = Extract<PoolOp, { kind: 'allocate' }>;
type Rebind = Extract<PoolOp, { kind: 'rebind' }>;

/**
 * The lowest free addresses, one per allocation, handed out in the order the returned function is called
 * with the same allocations. A pod UID that already holds an address for that NIC gets the same one back,
 * so a retried ADD never takes a second address.
 */
function allocator(
  pool: SpiderIPPool,
  { records, blocked }: ReadRecords,
  allocations: Allocate[],
  rules: AllocationRules,
  elsewhere: IPSet,
): (op: Allocate) => OpOutcome {
  // Records written without a NIC (by Spiderpool) count for every NIC of their pod.
  const held = new Map<string, string>();
  for (const [ip, r] of records) held.set(`${r.podUid}/${r.nic ?? ''}`, ip);
  const holder = (podUid: string, nic: string) => held.get(`${podUid}/${nic}`) ?? held.get(`${podUid}/`);
  const fresh = allocations.filter((op) => !holder(op.podUid, op.nic));
  const family = poolFamily(pool);
  const max = rules.maxRecords ?? MAX_POOL_RECORDS;
  const room = Math.max(0, Math.min(fresh.length, max - records.size));
  const taken = room
    ? assignable(pool, rules.reserved(pool))
        .subtract(usedSet(family, records))
        .subtract(IPSet.fromValues(family, blocked))
        .subtract(elsewhere)
        .take(room)
        .map((v) => formatIP(v, family))
    : [];
  let next = 0;
  return (op) => {
    const already = holder(op.podUid, op.nic);
    if (already) return { kind: 'done', ip: already, changed: false };
    const ip = taken[next++];
    if (ip === undefined) {
      return {
        kind: 'exhausted',
        detail: records.size >= max ? `the limit of ${max} records is reached` : `${records.size} allocated, none free`,
      };
    }
    records.set(ip, { pod: op.pod, podUid: op.podUid, nic: op.nic });
    held.set(`${op.podUid}/${op.nic}`, ip);
    return { kind: 'done', ip, changed: true };
  };
}

/** Applies the ops to a copy of the pool: releases and rebinds first, so allocations can reuse what they free. */
export function applyOps(pool: SpiderIPPool, ops: readonly PoolOp[], rules: AllocationRules): PoolUpdate {
  const read = readRecords(pool);
  const elsewhere = rules.elsewhere?.(pool) ?? IPSet.empty(poolFamily(pool));
  const first = ops.map((op) =>
    op.kind === 'release' ? release(read, op.ip, op.podUid) : op.kind === 'rebind' ? rebind(read, op, elsewhere) : op,
  );
  const allocate = allocator(
    pool,
    read,
    first.filter((o): o is Allocate => o.kind === 'allocate'),
    rules,
    elsewhere,
  );
  const outcomes = first.map((o) => (o.kind === 'allocate' ? allocate(o) : o));
  const changed =
    outcomes.some((o) => o.kind === 'done' && o.changed) || pool.status?.allocatedIPCount !== read.records.size;
  return { pool: withRecords(pool, read), changed, outcomes, problems: read.problems };
}

/** The pool without the records that still hold the given UIDs, and which addresses those were. */
export function withoutRecords(
  pool: SpiderIPPool,
  items: readonly { ip: string; podUid: string }[],
): { pool: SpiderIPPool; removed: string[] } {
  const read = readRecords(pool);
  const removed = items
    .map(({ ip, podUid }) => release(read, ip, podUid))
    .flatMap((o) => (o.kind === 'done' && o.changed ? [o.ip] : []));
  return { pool: withRecords(pool, read), removed };
}
