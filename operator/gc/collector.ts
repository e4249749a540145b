// Finds and frees pool records (and SpiderEndpoints) of pods that are gone. Suspects are picked from the
// watch caches; each suspect's pod, endpoint and StatefulSet are then read fresh and judged again, and
// only what that fresh judgement condemns is freed, by UID-checked, resourceVersion-guarded writes.
import type { KubernetesObject, V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import type { SpiderEndpoint, SpiderIPPool } from '../../api/v2beta1/types.ts';
import { parseRecords } from '../../ipam/records.ts';
import { apiMessage } from '../../lib/kube.ts';
import type { Logger } from '../../lib/log.ts';
import type { Caches, ReconcilerContext, Result } from '../runtime/types.ts';
import { GcClient } from './client.ts';
import {
  decide,
  decideEndpoint,
  splitPodKey,
  statefulSetOf,
  vmiOf,
  type DecideOptions,
  type Observed,
  type PoolRecord,
  type ReleaseReason,
} from './decide.ts';
import { KINDS } from '../../api/v2beta1/kinds.ts';
import { POD, STATEFUL_SET, VIRTUAL_MACHINE, VIRTUAL_MACHINE_INSTANCE } from '../kinds.ts';
import { gcMetrics, type GcMetrics } from './metrics.ts';
import type { GcOptions } from './options.ts';
import { releaseRecords, retireEndpoint } from './release.ts';

export interface CollectorDeps {
  caches: Caches;
  client: GcClient;
  options: GcOptions;
  metrics: GcMetrics;
  log: Logger;
  /** Shared by the collectors of one operator (see Collector.retired); a collector alone gets its own. */
  retired?: RetiredEndpoints;
}

type RetiredEndpoints = Map<string, { endpoint: SpiderEndpoint; at: number }>;

/**
 * The garbage collector and the StatefulSet reconciler each run a collector, and either may re-read a pod whose
 * endpoint the other has just retired: they share one memory of retired endpoints. Each reconciler gets its own
 * Caches handle, but the endpoint cache behind it is the operator's one, so the memory hangs off that.
 */
const retiredByEndpointCache = new WeakMap<object, RetiredEndpoints>();

export interface PassResult {
  /** The earliest time a kept record may become free without any event (a grace period ending). */
  recheckAt?: number;
}

interface Condemned {
  record: PoolRecord;
  reason: ReleaseReason;
  endpoint?: SpiderEndpoint;
}

const FRESH_READS_AT_ONCE = 8;
/** How long a deleted endpoint still counts for judging its pod's records (Collector.retired). */
const RETIRED_MEMORY_MS = 60_000;

const recordId = (r: PoolRecord) => `${r.pool}/${r.ip}/${r.podUid}`;
const holder = (pod: string, uid: string | undefined) => `${pod}|${uid ?? ''}`;
const earliest = (a: number | undefined, b: number | undefined) =>
  a === undefined ? b : b === undefined ? a : Math.min(a, b);

async function eachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** The collector of one reconciler: its own API client, the registry's shared GC series, the reconciler's log. */
export function newCollector(
  { caches, kubeConfig, registry }: ReconcilerContext,
  options: GcOptions,
  log: Logger,
): Collector {
  const endpointCache = caches.of<SpiderEndpoint>(KINDS.SpiderEndpoint);
  let retired = retiredByEndpointCache.get(endpointCache);
  if (!retired) retiredByEndpointCache.set(endpointCache, (retired = new Map()));
  const metrics = gcMetrics(registry);
  return new Collector({ caches, client: new GcClient(kubeConfig), options, metrics, log, retired });
}

/** Reconcile again once the earliest grace period a pass waits for has ended, a little after so it surely has. */
export const recheckResult = (recheckAt: number | undefined): Result | undefined =>
  recheckAt === undefined ? undefined : { requeueAfterMs: Math.max(0, recheckAt - Date.now()) + 50 };

export class Collector {
  private readonly parsed = new Map<string, { resourceVersion?: string; records: PoolRecord[] }>();
  /** Records by pod key, rebuilt when any pool changed; `version` lists every pool's resourceVersion. */
  private index?: { version: string; byPod: Map<string, PoolRecord[]> };
  /**
   * Endpoints this collector (or one sharing the memory) deleted before freeing their records, by pod key, for a
   * while. A concurrent pass (the full scan, a pod's own event, the StatefulSet reconciler) that re-reads the pod
   * after the endpoint went judges its records as if the endpoint were still there, so that a StatefulSet
   * ordinal's records keep their StatefulSet reason.
   */
  private readonly retired: RetiredEndpoints;
  /** Dry run: endpoints already reported, so each is logged once. */
  private readonly reportedEndpoints = new Set<string>();

  constructor(private readonly deps: CollectorDeps) {
    this.retired = deps.retired ?? new Map();
  }

  /** A full scan: every record of every pool, then every endpoint that no record names. */
  async scan(): Promise<void> {
    const records = this.allRecords();
    if (this.deps.options.dryRun) {
      const present = new Set(records.map(recordId));
      for (const id of this.deps.metrics.wouldRelease.keys())
        if (!present.has(id)) this.deps.metrics.wouldRelease.delete(id);
    }
    const errors: unknown[] = [];
    await this.collectRecords(records).catch((err: unknown) => errors.push(err));
    const endpoints = this.deps.caches.of<SpiderEndpoint>(KINDS.SpiderEndpoint).list();
    await this.collectEndpoints(endpoints, new Set(records.map((r) => holder(r.pod, r.podUid)))).catch((err: unknown) =>
      errors.push(err),
    );
    if (errors.length) throw errors[0];
    this.deps.metrics.scans.inc();
    this.deps.log.debug('full scan done', { records: records.length, endpoints: endpoints.length });
  }

  /** Every record naming the pod ("namespace/name"), then its endpoint. */
  async collectPod(podKey: string): Promise<PassResult> {
    const records = this.recordsOf(podKey);
    const result = await this.collectRecords(records);
    const endpoint = this.deps.caches.of<SpiderEndpoint>(KINDS.SpiderEndpoint).get(podKey);
    if (endpoint) await this.collectEndpoints([endpoint], new Set(records.map((r) => holder(r.pod, r.podUid))));
    return result;
  }

  private recordsOf(podKey: string): PoolRecord[] {
    const pools = this.deps.caches.of<SpiderIPPool>(KINDS.SpiderIPPool).list();
    const version = pools.map((p) => `${p.metadata.name}@${p.metadata.resourceVersion}`).join(',');
    if (this.index?.version !== version) {
      const byPod = new Map<string, PoolRecord[]>();
      for (const r of this.allRecords()) {
        const list = byPod.get(r.pod);
        if (list) list.push(r);
        else byPod.set(r.pod, [r]);
      }
      this.index = { version, byPod };
    }
    return this.index.byPod.get(podKey) ?? [];
  }

  /** Records of every cached pool, each pool parsed once per resourceVersion. */
  private allRecords(): PoolRecord[] {
    const pools = this.deps.caches.of<SpiderIPPool>(KINDS.SpiderIPPool).list();
    const names = new Set(pools.map((p) => p.metadata.name));
    for (const name of this.parsed.keys()) if (!names.has(name)) this.parsed.delete(name);
    return pools.flatMap((pool) => {
      const { name, resourceVersion } = pool.metadata;
      const known = this.parsed.get(name);
      if (known && known.resourceVersion === resourceVersion) return known.records;
      let records: PoolRecord[];
      try {
        records = [...parseRecords(pool)].map(([ip, r]) => ({
          pool: name,
          ip,
          pod: r.pod,
          podUid: r.podUid,
          ...(r.nic ? { nic: r.nic } : {}),
        }));
      } catch (err) {
        // A pool whose records cannot be read is left alone: freeing from it would be guessing.
        this.deps.log.error('pool records unreadable, skipped', { pool: name, err: apiMessage(err) });
        records = [];
      }
      this.parsed.set(name, { resourceVersion, records });
      return records;
    });
  }

  private decideOptions(now: number): DecideOptions {
    return {
      now,
      graceMarginMs: this.deps.options.graceMarginMs,
      enableStatefulSet: this.deps.options.enableStatefulSet,
      enableKubevirtStaticIP: this.deps.options.enableKubevirtStaticIP,
    };
  }

  private cached(podKey: string): Observed {
    const { caches } = this.deps;
    const pod = caches.of<V1Pod>(POD).get(podKey);
    const endpoint = caches.of<SpiderEndpoint>(KINDS.SpiderEndpoint).get(podKey);
    const setName = statefulSetOf(pod, endpoint);
    const namespace = splitPodKey(podKey)?.namespace;
    const statefulSet =
      setName && namespace ? caches.of<V1StatefulSet>(STATEFUL_SET).get(`${namespace}/${setName}`) : undefined;
    const vmiName = this.deps.options.enableKubevirtStaticIP ? vmiOf(endpoint) : undefined;
    if (!vmiName || !namespace) return { pod, endpoint, statefulSet };
    const vmKey = `${namespace}/${vmiName}`;
    const vmi = caches.of<KubernetesObject>(VIRTUAL_MACHINE_INSTANCE).get(vmKey);
    const vm = caches.of<KubernetesObject>(VIRTUAL_MACHINE).get(vmKey);
    return { pod, endpoint, statefulSet, vmi, vm };
  }

  /** A fresh read of what exists under the pod name; a failed read is logged and noted, and nothing acts on it. */
  private async freshOrNote(podKey: string, failure: string, errors: unknown[]): Promise<Observed | undefined> {
    try {
      return await this.fresh(podKey);
    } catch (err) {
      this.deps.log.warn(failure, { pod: podKey, err: apiMessage(err) });
      errors.push(err);
      return undefined;
    }
  }

  private async fresh(podKey: string): Promise<Observed> {
    const { client, options } = this.deps;
    const id = splitPodKey(podKey);
    if (!id) return {};
    const [pod, endpoint] = await Promise.all([
      client.pod(id.namespace, id.name),
      client.endpoint(id.namespace, id.name),
    ]);
    const retired = endpoint ? undefined : this.recentlyRetired(podKey);
    const judged = endpoint ?? retired;
    const setName = options.enableStatefulSet ? statefulSetOf(pod, judged) : undefined;
    const statefulSet = setName ? await client.statefulSet(id.namespace, setName) : undefined;
    const vmiName = options.enableKubevirtStaticIP ? vmiOf(judged) : undefined;
    if (!vmiName) return { pod, endpoint: judged, statefulSet };
    const [vmi, vm] = await Promise.all([
      client.kubevirt(id.namespace, 'virtualmachineinstances', vmiName),
      client.kubevirt(id.namespace, 'virtualmachines', vmiName),
    ]);
    return { pod, endpoint: judged, statefulSet, vmi, vm };
  }

  private recentlyRetired(podKey: string): SpiderEndpoint | undefined {
    const entry = this.retired.get(podKey);
    if (entry && Date.now() - entry.at < RETIRED_MEMORY_MS) return entry.endpoint;
    this.retired.delete(podKey);
    return undefined;
  }

  private async collectRecords(records: PoolRecord[]): Promise<PassResult> {
    const { options } = this.deps;
    let recheckAt: number | undefined;
    const now = Date.now();
    const observed = new Map<string, Observed>();
    const suspects = new Map<string, PoolRecord[]>();
    for (const record of records) {
      let seen = observed.get(record.pod);
      if (!seen) observed.set(record.pod, (seen = this.cached(record.pod)));
      const decision = decide(record, seen, this.decideOptions(now));
      if (decision.action === 'keep') recheckAt = earliest(recheckAt, decision.recheckAt);
      else suspects.set(record.pod, [...(suspects.get(record.pod) ?? []), record]);
    }

    const condemned: Condemned[] = [];
    const errors: unknown[] = [];
    await eachLimited([...suspects], FRESH_READS_AT_ONCE, async ([podKey, suspected]) => {
      const seen = await this.freshOrNote(podKey, 're-check failed, nothing freed', errors);
      if (!seen) return;
      const at = Date.now();
      for (const record of suspected) {
        const decision = decide(record, seen, this.decideOptions(at));
        if (decision.action === 'keep') recheckAt = earliest(recheckAt, decision.recheckAt);
        else
          condemned.push({
            record,
            reason: decision.reason,
            ...(decision.deleteEndpoint && seen.endpoint ? { endpoint: seen.endpoint } : {}),
          });
      }
    });

    if (options.dryRun) this.report(records, condemned);
    else await this.release(condemned, errors);
    if (errors.length) throw errors[0];
    return { recheckAt };
  }

  /** Dry run: what this pass would free replaces what earlier passes said of the same records. */
  private report(records: PoolRecord[], condemned: Condemned[]): void {
    const { metrics, log } = this.deps;
    const now = new Map(condemned.map((c) => [recordId(c.record), c]));
    for (const record of records) {
      const id = recordId(record);
      const c = now.get(id);
      if (!c) {
        metrics.wouldRelease.delete(id);
        continue;
      }
      // Logged once per record, not on every scan.
      if (metrics.wouldRelease.has(id)) continue;
      metrics.wouldRelease.set(id, { record, reason: c.reason });
      log.info('dry run: would release', {
        pool: record.pool,
        ip: record.ip,
        pod: record.pod,
        podUid: record.podUid,
        reason: c.reason,
        deleteEndpoint: c.endpoint !== undefined,
      });
    }
  }

  /**
   * Endpoints first, then records: an address is handed out again only once no endpoint lists it, so a crash, a
   * failed write or a lost leadership in between leaves records without an endpoint (freed by the next pass), never
   * an endpoint listing an address another pod may already hold.
   */
  private async release(condemned: Condemned[], errors: unknown[]): Promise<void> {
    const { client, metrics, log } = this.deps;
    const endpoints = new Map<string, SpiderEndpoint>();
    for (const { record, endpoint } of condemned)
      if (endpoint) endpoints.set(endpoint.metadata.uid ?? record.pod, endpoint);
    const retired = new Map<string, boolean>();
    await Promise.all(
      [...endpoints].map(async ([id, endpoint]) => retired.set(id, await this.retire(endpoint, errors))),
    );
    // A record condemned with an endpoint that could not be deleted, or changed since it was read, waits.
    const free = condemned.filter(
      ({ record, endpoint }) => !endpoint || retired.get(endpoint.metadata.uid ?? record.pod) === true,
    );

    const byPool = new Map<string, Condemned[]>();
    for (const c of free) byPool.set(c.record.pool, [...(byPool.get(c.record.pool) ?? []), c]);
    const freedHolders = new Set<string>();
    await Promise.all(
      [...byPool].map(async ([pool, items]) => {
        metrics.attempts.inc();
        try {
          const freed = new Set(
            await releaseRecords(
              client,
              pool,
              items.map((c) => c.record),
              { onConflict: () => metrics.conflicts.inc() },
            ),
          );
          for (const { record, reason, endpoint } of items.filter((c) => freed.has(c.record.ip))) {
            metrics.released.inc({ reason });
            log.info('released', { pool, ip: record.ip, pod: record.pod, podUid: record.podUid, reason });
            if (!endpoint) freedHolders.add(holder(record.pod, record.podUid));
          }
        } catch (err) {
          metrics.failures.inc();
          errors.push(err);
          log.warn('release failed', { pool, ips: items.map((c) => c.record.ip), err: apiMessage(err) });
        }
      }),
    );
    await this.sweepLate(freedHolders, errors);
  }

  /**
   * Records freed while no endpoint was seen: an ADD that outlived its pod may have written the endpoint after the
   * re-read. Such an endpoint would list addresses that are free again; it goes now, not at the next full scan.
   */
  private async sweepLate(freedHolders: Set<string>, errors: unknown[]): Promise<void> {
    const pods = [...new Set([...freedHolders].map((h) => h.slice(0, h.indexOf('|'))))];
    await eachLimited(pods, FRESH_READS_AT_ONCE, async (podKey) => {
      const seen = await this.freshOrNote(podKey, "re-check of a freed pod's endpoint failed", errors);
      if (!seen) return;
      const endpoint = seen.endpoint;
      if (!endpoint || !freedHolders.has(holder(podKey, endpoint.status?.current.uid))) return;
      if (decideEndpoint(endpoint, seen, false, this.decideOptions(Date.now())).action === 'delete')
        await this.retire(endpoint, errors);
    });
  }

  /** True when the endpoint is gone: deleted now, or already. */
  private async retire(endpoint: SpiderEndpoint, errors: unknown[]): Promise<boolean> {
    const { client, metrics, log } = this.deps;
    const pod = `${endpoint.metadata.namespace}/${endpoint.metadata.name}`;
    try {
      // Remembered before the deletion: the pass its watch event starts may re-read the pod before this returns.
      if (this.retired.size >= 10_000) this.retired.clear();
      this.retired.set(pod, { endpoint, at: Date.now() });
      const outcome = await retireEndpoint(client, endpoint);
      if (outcome === 'changed') this.retired.delete(pod);
      if (outcome === 'deleted') {
        metrics.endpointsDeleted.inc();
        log.info('endpoint deleted', { pod, podUid: endpoint.status?.current.uid });
      }
      return outcome !== 'changed';
    } catch (err) {
      metrics.failures.inc();
      errors.push(err);
      log.warn('endpoint deletion failed', { pod, err: apiMessage(err) });
      this.retired.delete(pod);
      return false;
    }
  }

  /** Endpoints that no pool record names with their UID and whose pod is gone. */
  private async collectEndpoints(endpoints: SpiderEndpoint[], referenced: Set<string>): Promise<void> {
    const { options, log } = this.deps;
    const key = (e: SpiderEndpoint) => `${e.metadata.namespace}/${e.metadata.name}`;
    const isReferenced = (e: SpiderEndpoint) => referenced.has(holder(key(e), e.status?.current.uid));
    const suspects = endpoints.filter(
      (e) =>
        decideEndpoint(e, this.cached(key(e)), isReferenced(e), this.decideOptions(Date.now())).action === 'delete',
    );
    const errors: unknown[] = [];
    await eachLimited(suspects, FRESH_READS_AT_ONCE, async (suspect) => {
      const seen = await this.freshOrNote(key(suspect), 're-check failed, endpoint kept', errors);
      if (!seen) return;
      const endpoint = seen.endpoint;
      if (
        !endpoint ||
        decideEndpoint(endpoint, seen, isReferenced(endpoint), this.decideOptions(Date.now())).action !== 'delete'
      )
        return;
      if (!options.dryRun) await this.retire(endpoint, errors);
      else if (!this.reportedEndpoints.has(endpoint.metadata.uid ?? key(endpoint))) {
        this.reportedEndpoints.add(endpoint.metadata.uid ?? key(endpoint));
        log.info('dry run: would delete endpoint', { pod: key(endpoint), podUid: endpoint.status?.current.uid });
      }
    });
    if (errors.length) throw errors[0];
  }
}
