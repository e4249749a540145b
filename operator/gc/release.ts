// The two writes of the garbage collector. A pool record goes only if it still holds the pod UID that was
// judged dead, so a record that meanwhile moved to a live pod (a StatefulSet rebind, an address handed out
// again) is left alone. Every write carries the resourceVersion it was computed from.
import type { SpiderEndpoint } from '../../api/v2beta1/types.ts';
import { FINALIZER } from '../../api/v2beta1/constants.ts';
import { withoutRecords } from '../../ipam/pool-status.ts';
import { updatePoolStatus, type PoolStatusClient } from '../../ipam/retry.ts';
import { isConflict, isNotFound } from '../../lib/kube.ts';

export interface ReleaseItem {
  ip: string;
  podUid: string;
}

export interface ReleaseOptions {
  onConflict?: () => void;
  /** How long conflicting writes are retried before the last 409 is thrown. */
  retryBudgetMs?: number;
}

/** Frees the records from a fresh read of the pool; returns the addresses actually freed. */
export async function releaseRecords(
  client: PoolStatusClient,
  poolName: string,
  items: readonly ReleaseItem[],
  options: ReleaseOptions = {},
): Promise<string[]> {
  const updated = await updatePoolStatus(
    client,
    poolName,
    (pool) => {
      const { pool: next, removed } = withoutRecords(pool, items);
      return { next: removed.length ? next : undefined, result: removed };
    },
    {
      policy: { budgetMs: options.retryBudgetMs ?? 30_000, firstPauseMs: 10, maxPauseMs: 200 },
      onConflict: options.onConflict,
    },
  );
  return updated.gone ? [] : updated.result;
}

export interface EndpointClient {
  endpoint(namespace: string, name: string): Promise<SpiderEndpoint | undefined>;
  deleteEndpoint(endpoint: SpiderEndpoint): Promise<unknown>;
  replaceEndpoint(endpoint: SpiderEndpoint): Promise<SpiderEndpoint>;
}

/**
 * What retireEndpoint did: deleted it, found it gone or already being deleted by someone else, or found it
 * changed since it was read.
 */
export type Retired = 'deleted' | 'gone' | 'changed';

/**
 * Deletes the endpoint as it was read, then strips our finalizer, which would otherwise hold it forever.
 * Does nothing when the endpoint is gone or already marked for deletion ('gone': whoever marked it strips the
 * finalizer) or changed otherwise since that read ('changed': whatever changed it decides).
 */
export async function retireEndpoint(client: EndpointClient, endpoint: SpiderEndpoint): Promise<Retired> {
  const { namespace, name, uid } = endpoint.metadata as { namespace: string; name: string; uid: string };
  try {
    await client.deleteEndpoint(endpoint);
  } catch (err) {
    if (isNotFound(err)) return 'gone';
    if (!isConflict(err)) throw err;
    const now = await client.endpoint(namespace, name);
    return now?.metadata.uid !== uid || now.metadata.deletionTimestamp ? 'gone' : 'changed';
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
  return 'deleted';
}
