// The two writes of the garbage collector. A pool record goes only if it still holds the pod UID that was
// judged dead, so a record that meanwhile moved to a live pod (a StatefulSet rebind, an address handed out
// again) is left alone. Every write carries the resourceVersion it was computed from.
import { FINALIZER, type SpiderEndpoint, type SpiderIPPool } from '../../api/v2beta1/types.ts';
import type { PoolStatusClient } from '../../agent/store/pool-batcher.ts';
import { parseRecords, serializeRecords } from '../../ipam/records.ts';
import { isConflict, isNotFound } from '../../lib/kube.ts';

export interface ReleaseItem { ip: string; podUid: string }

/** The pool without the records that still hold the given UIDs, and which addresses those were. */
export function withoutRecords(pool: SpiderIPPool, items: readonly ReleaseItem[]): { pool: SpiderIPPool; removed: string[] } {
  const records = parseRecords(pool);
  const removed: string[] = [];
  for (const { ip, podUid } of items) {
    if (records.get(ip)?.podUid !== podUid) continue;
    records.delete(ip);
    removed.push(ip);
  }
  const status = { ...pool.status, allocatedIPCount: records.size };
  const allocatedIPs = serializeRecords(records);
  if (allocatedIPs === undefined) delete status.allocatedIPs;
  else status.allocatedIPs = allocatedIPs;
  return { pool: { ...pool, status }, removed };
}

export interface ReleaseOptions {
  onConflict?: () => void;
  /** How long conflicting writes are retried before the last 409 is thrown. */
  retryBudgetMs?: number;
}

/** Frees the records from a fresh read of the pool; returns the addresses actually freed. */
export async function releaseRecords(client: PoolStatusClient, poolName: string, items: readonly ReleaseItem[], options: ReleaseOptions = {}): Promise<string[]> {
  const deadline = Date.now() + (options.retryBudgetMs ?? 30_000);
  for (let attempt = 0; ; attempt++) {
    let pool: SpiderIPPool;
    try {
      pool = await client.read(poolName);
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
    const next = withoutRecords(pool, items);
    if (next.removed.length === 0) return [];
    try {
      await client.writeStatus(next.pool);
      return next.removed;
    } catch (err) {
      if (!isConflict(err) || Date.now() > deadline) throw err;
      options.onConflict?.();
      await new Promise((r) => setTimeout(r, Math.min(200, 10 * 2 ** Math.min(attempt, 5)) * (0.5 + Math.random())));
    }
  }
}

export interface EndpointClient {
  endpoint(namespace: string, name: string): Promise<SpiderEndpoint | undefined>;
  deleteEndpoint(endpoint: SpiderEndpoint): Promise<unknown>;
  replaceEndpoint(endpoint: SpiderEndpoint): Promise<SpiderEndpoint>;
}

/**
 * Deletes the endpoint as it was read, then strips our finalizer, which would otherwise hold it forever.
 * Returns false, doing nothing, when the endpoint is gone or changed since that read: whatever changed it
 * decides.
 */
export async function retireEndpoint(client: EndpointClient, endpoint: SpiderEndpoint): Promise<boolean> {
  const { namespace, name, uid } = endpoint.metadata as { namespace: string; name: string; uid: string };
  try {
    await client.deleteEndpoint(endpoint);
  } catch (err) {
    if (isNotFound(err) || isConflict(err)) return false;
    throw err;
  }
  // Marked for deletion now, so only finalizers can still change: stripping ours is always right.
  let current = await client.endpoint(namespace, name);
  for (let attempt = 0; current?.metadata.uid === uid && current.metadata.finalizers?.includes(FINALIZER); attempt++) {
    const finalizers = current.metadata.finalizers.filter((f) => f !== FINALIZER);
    try {
      await client.replaceEndpoint({ ...current, metadata: { ...current.metadata, finalizers } });
      break;
    } catch (err) {
      if (isNotFound(err)) break;
      if (!isConflict(err) || attempt >= 10) throw err;
      current = await client.endpoint(namespace, name);
    }
  }
  return true;
}
