// The record of admitted writes (docs/admission.md#consistent-reads): every pool or subnet write the webhooks
// admit is noted, before it is answered, in one ConfigMap all replicas read with a quorum GET. A replica whose
// caches hold every write noted within the horizon has seen every write that completed before the request, and
// may answer from them; one that does not falls back to quorum LISTs. A note whose write then failed (another
// webhook refused it, a stale resourceVersion) only sends checks to the LISTs until it leaves the horizon.
import type { KubeConfig, V1ConfigMap } from '@kubernetes/client-node';
import { JsonClient } from '../lib/json-client.ts';
import { isAlreadyExists, isConflict, isNotFound, orUndefined } from '../lib/kube.ts';
import { collectionPath } from '../lib/watch/kind.ts';
import type { AdmissionRequest } from './types.ts';

export const ADMITTED_WRITES_CONFIGMAP = 'spiderpool-admitted-writes';

/**
 * How long a note is kept and trusted. A cache that has not received a write this long after it was admitted
 * is broken in a way no record can help; until then the note holds checks to the LISTs.
 */
export const HORIZON_MS = 30_000;
/** More notes than this within the horizon, and the record says "read from the apiserver" until they age out. */
export const MAX_NOTES = 1000;
const ATTEMPTS = 8;
/** Well inside the 10 s the apiserver gives a webhook call, which has its own answer to make after the record. */
const REQUEST_TIMEOUT_MS = 5_000;

export interface AdmittedWrite {
  kind: string;
  name: string;
  uid: string;
  /** The generation the write gives the object; 0 for a delete. */
  generation: number;
  deleted?: true;
  /** When it was admitted, in ms since the epoch, by the admitting replica's clock. */
  at: number;
}

export interface AdmittedRecord {
  writes: AdmittedWrite[];
  /** Until then (ms since the epoch) the record is incomplete: notes were dropped to keep it small. */
  incompleteUntil: number;
  /** When the record was first written: before that, and for a horizon after, writes may be missing from it. */
  since: number;
}

const DATA_KEY = 'writes';

export function parseRecord(cm: V1ConfigMap | undefined): AdmittedRecord | undefined {
  const raw = cm?.data?.[DATA_KEY];
  const since = Date.parse(cm?.metadata?.creationTimestamp?.toString() ?? '');
  if (raw === undefined || Number.isNaN(since)) return undefined;
  try {
    const parsed = JSON.parse(raw) as Partial<AdmittedRecord>;
    if (!Array.isArray(parsed.writes)) return undefined;
    return { writes: parsed.writes, incompleteUntil: Number(parsed.incompleteUntil ?? 0), since };
  } catch {
    return undefined;
  }
}

/** The write a validating webhook is about to admit, or undefined when it changes nothing a check reads. */
export function admittedWrite(request: AdmissionRequest, now: number): AdmittedWrite | undefined {
  if (request.dryRun) return undefined;
  const kind = request.kind.kind;
  if (request.operation === 'DELETE') {
    const meta = request.oldObject?.metadata;
    return meta?.name && meta.uid
      ? { kind, name: meta.name, uid: meta.uid, generation: 0, deleted: true, at: now }
      : undefined;
  }
  const meta = request.object?.metadata;
  if (!meta?.name || !meta.uid) return undefined;
  const generation = meta.generation ?? 0;
  // Checks read other objects' spec and existence; an update that leaves the spec alone changes neither.
  if (request.operation === 'UPDATE' && generation === (request.oldObject?.metadata?.generation ?? 0)) return undefined;
  return { kind, name: meta.name, uid: meta.uid, generation, at: now };
}

/** The record with `added` noted: notes older than the horizon, or superseded by a delete, leave it. */
export function withNotes(record: AdmittedRecord | undefined, added: AdmittedWrite[], now: number): AdmittedRecord {
  const deleted = new Set(added.filter((w) => w.deleted).map((w) => w.uid));
  let writes = [...(record?.writes ?? []).filter((w) => now - w.at < HORIZON_MS && !deleted.has(w.uid)), ...added];
  let incompleteUntil = record && record.incompleteUntil > now ? record.incompleteUntil : 0;
  if (writes.length > MAX_NOTES) {
    writes = writes.slice(-MAX_NOTES);
    incompleteUntil = now + HORIZON_MS;
  }
  return { writes, incompleteUntil, since: record?.since ?? now };
}

/**
 * The notes a cache must hold before it can answer at `now`, or undefined when the record cannot vouch for
 * any cache (missing, too young, or incomplete).
 */
export function pendingNotes(
  record: AdmittedRecord | undefined,
  now: number,
  horizonMs = HORIZON_MS,
): AdmittedWrite[] | undefined {
  if (!record || now - record.since < horizonMs || record.incompleteUntil > now) return undefined;
  return record.writes.filter((w) => now - w.at < horizonMs);
}

/** Whether a cache's copy of the noted object (undefined when absent) reflects the note. */
export function reflects(
  write: AdmittedWrite,
  cached: { metadata?: { uid?: string; generation?: number; deletionTimestamp?: unknown } } | undefined,
): boolean {
  const meta = cached?.metadata;
  if (write.deleted) return meta?.uid !== write.uid || meta.deletionTimestamp !== undefined;
  if (meta?.uid !== write.uid) return false;
  return meta.deletionTimestamp !== undefined || (meta.generation ?? 0) >= write.generation;
}

/** Reads and appends to the record; one replica's concurrent notes share one write. */
export class AdmittedWrites {
  // Plain JSON requests: the record is read twice on every pool create (the mutating and the validating check),
  // and client-node's generated layer costs more CPU per read than the apiserver spends on it.
  private readonly json: JsonClient;
  private readonly path: string;
  private queued: { write: AdmittedWrite; done: (err?: unknown) => void }[] = [];
  private writing?: Promise<void>;

  constructor(
    kubeConfig: KubeConfig,
    private readonly namespace: string,
  ) {
    this.json = new JsonClient(kubeConfig, REQUEST_TIMEOUT_MS);
    this.path = collectionPath({
      group: '',
      version: 'v1',
      plural: 'configmaps',
      kind: 'ConfigMap',
      namespaced: true,
      namespace,
    });
  }

  /** The record as etcd holds it now (a quorum GET). */
  async read(): Promise<AdmittedRecord | undefined> {
    return parseRecord(await this.current());
  }

  /** Creates the record if it is missing, so that it is old enough to vouch for caches soon after start. */
  async ensure(): Promise<void> {
    if (!(await this.read())) await this.store([]);
  }

  /** Resolves once the write is in the record; rejects when it could not be recorded. */
  note(write: AdmittedWrite): Promise<void> {
    const noted = new Promise<void>((resolve, reject) =>
      this.queued.push({ write, done: (err) => (err === undefined ? resolve() : reject(err)) }),
    );
    this.writing ??= this.drain();
    return noted;
  }

  private async drain(): Promise<void> {
    while (this.queued.length > 0) {
      const batch = this.queued.splice(0);
      try {
        await this.store(batch.map((b) => b.write));
        for (const b of batch) b.done();
      } catch (err) {
        for (const b of batch) b.done(err);
      }
    }
    this.writing = undefined;
  }

  private current(): Promise<V1ConfigMap | undefined> {
    return orUndefined(this.json.request<V1ConfigMap>('GET', `${this.path}/${ADMITTED_WRITES_CONFIGMAP}`));
  }

  private async store(added: AdmittedWrite[]): Promise<void> {
    const name = ADMITTED_WRITES_CONFIGMAP;
    for (let attempt = 1; ; attempt++) {
      try {
        const current = await this.current();
        const record = withNotes(parseRecord(current), added, Date.now());
        const data = { [DATA_KEY]: JSON.stringify({ writes: record.writes, incompleteUntil: record.incompleteUntil }) };
        if (current) {
          await this.json.request('PUT', `${this.path}/${name}`, { body: { ...current, data } });
        } else {
          const metadata = { name, namespace: this.namespace };
          await this.json.request('POST', this.path, { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata, data } });
        }
        return;
      } catch (err) {
        // A conflict or a create race with another replica: read again and retry.
        if (attempt >= ATTEMPTS || !(isConflict(err) || isAlreadyExists(err) || isNotFound(err))) throw err;
      }
    }
  }
}
