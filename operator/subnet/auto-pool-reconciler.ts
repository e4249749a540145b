// The application controller of §6.3: for every Deployment, ReplicaSet, StatefulSet, DaemonSet and Job
// whose pod template names a SpiderSubnet, one auto-created pool per NIC and family, sized to the replica
// count and reclaimed with the application unless `ipam.spidernet.io/ippool-reclaim: "false"`.
// Keys are `Kind/namespace/name`; an application that is gone from its cache gets its reclaimable pools
// deleted, so a deletion missed while the operator was down is caught up by the pool's own key.
// The subnet records of an application's pools are written only under the application's key, which the
// work queue never reconciles twice at once: a record is dropped only once its pool is gone (or was
// never made), and nothing else can remove a record between a carve and the creation of its pool.
import { CustomObjectsApi, type KubernetesObject } from '@kubernetes/client-node';
import { ANNOTATION } from '../../ipam/selection/annotations.ts';
import { SelectionError } from '../../ipam/selection/errors.ts';
import { GROUP, VERSION, type SpiderIPPool, type SpiderReservedIP, type SpiderSubnet } from '../../api/v2beta1/types.ts';
import { IPSet } from '../../lib/ip/index.ts';
import { isNotFound } from '../../lib/kube.ts';
import type { ReadCache, Reconciler, ReconcilerFactory, Result } from '../runtime/types.ts';
import {
  appKey, applicationOf, applicationRecord, autoPoolRequests, describeApp, parseAppKey, parseApplicationRecord, type AppRef, type Application,
  type AutoPoolRequest,
} from './application.ts';
import { POOL_LABEL, appIdentityLabels, isReclaimable, poolApplication } from './auto-pool.ts';
import { parseControlledPools, type ControlledPools } from './controlled-pools.ts';
import { AutoPoolWriter } from './ensure-auto-pool.ts';
import { EventRecorder } from './events.ts';
import { SPIDER_IPPOOL, SPIDER_RESERVED_IP, SPIDER_SUBNET } from '../kinds.ts';
import { APP_KINDS, type AppKind } from './kinds.ts';

/** Safety net for waits that no watched change ends (the subnet and pool watches normally do). */
export const AUTO_POOL_RETRY_MS = 60_000;

const APP_KIND_NAMES = Object.keys(APP_KINDS) as AppKind[];

export const createAutoPoolReconciler: ReconcilerFactory = ({ caches, kubeConfig, log }) => {
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const events = new EventRecorder(kubeConfig, log);
  const pools = caches.of<SpiderIPPool>(SPIDER_IPPOOL);
  const subnets = caches.of<SpiderSubnet>(SPIDER_SUBNET);
  const reserved = caches.of<SpiderReservedIP>(SPIDER_RESERVED_IP);
  const apps = (kind: AppKind): ReadCache => caches.of(APP_KINDS[kind]);
  const writer = new AutoPoolWriter(custom, { pools: () => pools.list(), reservedIPs: () => reserved.list() });

  const requestsOf = (app: Application): AutoPoolRequest[] => {
    try {
      return autoPoolRequests(app);
    } catch (err) {
      if (err instanceof SelectionError) return [];
      throw err;
    }
  };

  // Cached objects are replaced, never changed, so a parsed ledger stays valid for its object.
  const ledgers = new WeakMap<SpiderSubnet, ControlledPools>();
  const ledgerOf = (subnet: SpiderSubnet): ControlledPools => {
    let ledger = ledgers.get(subnet);
    if (!ledger) {
      try {
        ledger = parseControlledPools(subnet);
      } catch {
        ledger = new Map();
      }
      ledgers.set(subnet, ledger);
    }
    return ledger;
  };

  /** Application records that the subnet reserves addresses for in a pool the cache does not show. */
  const recordsWithoutPool = (subnet: SpiderSubnet): string[] =>
    [...ledgerOf(subnet)].flatMap(([pool, entry]) => (entry.application !== undefined && !pools.get(pool) ? [entry.application] : []));

  const allRecordsWithoutPool = (): Set<string> => new Set(subnets.list().flatMap(recordsWithoutPool));

  /** Pools in the cache by application key, for the cheap checks that keep a healthy application off the apiserver. */
  const poolsByApp = (): Map<string, SpiderIPPool[]> => {
    const index = new Map<string, SpiderIPPool[]>();
    for (const pool of pools.list()) {
      const ref = poolApplication(pool);
      if (!ref) continue;
      const key = appKey(ref);
      index.set(key, [...(index.get(key) ?? []), pool]);
    }
    return index;
  };

  /** Whether the cache already shows every pool of the application as it should be. */
  const satisfied = (app: Application, requests: AutoPoolRequest[], own: SpiderIPPool[], withoutPool: ReadonlySet<string>): boolean => {
    try {
      return cacheShowsServed(app, requests, own, withoutPool);
    } catch {
      // Malformed ranges or ledger: the full reconcile reports them.
      return false;
    }
  };

  const cacheShowsServed = (app: Application, requests: AutoPoolRequest[], own: SpiderIPPool[], withoutPool: ReadonlySet<string>): boolean => {
    if (own.some((p) => isStalePredecessor(p, app)) || withoutPool.has(applicationRecord(app))) return false;
    return requests.every((req) => {
      const pool = own.find((p) => p.metadata.labels?.[POOL_LABEL.ownerApplicationUID] === app.uid && servesRequest(p, req));
      if (!pool || pool.metadata.deletionTimestamp) return false;
      const labels = pool.metadata.labels ?? {};
      if (labels[POOL_LABEL.ownerSpiderSubnet] !== req.subnet || labels[POOL_LABEL.reclaim] !== String(req.reclaim)) return false;
      if (pool.metadata.annotations?.[ANNOTATION.ippoolIPNumber] !== req.ipNumber) return false;
      const ips = IPSet.fromRanges(pool.spec.ips ?? [], req.family);
      if (ips.count() !== BigInt(req.size)) return false;
      const subnet = subnets.get(req.subnet);
      if (!subnet) return false;
      const entry = ledgerOf(subnet).get(pool.metadata.name);
      return entry?.application === applicationRecord(app) && IPSet.fromRanges(entry.ips, req.family).equals(ips);
    });
  };

  /**
   * Applications that name the subnet and are not yet served (a change of the subnet may be what they
   * wait for), and those the subnet keeps addresses for in pools that do not exist.
   */
  const subnetKeys = (subnet: SpiderSubnet): string[] => {
    const name = subnet.metadata.name;
    const index = poolsByApp();
    const withoutPool = allRecordsWithoutPool();
    const keys = recordsWithoutPool(subnet).flatMap((record) => {
      const ref = parseApplicationRecord(record);
      return ref ? [appKey(ref)] : [];
    });
    for (const kind of APP_KIND_NAMES) {
      for (const obj of apps(kind).list()) {
        const app = applicationOf(kind, obj);
        if (!app || app.terminating) continue;
        const requests = requestsOf(app);
        if (requests.some((r) => r.subnet === name) && !satisfied(app, requests, index.get(appKey(app)) ?? [], withoutPool)) keys.push(appKey(app));
      }
    }
    return keys;
  };

  /** Fresh list: the cache may not show a pool this controller created a moment ago. */
  const listPools = async (ref: AppRef): Promise<SpiderIPPool[]> => {
    const labelSelector = Object.entries(appIdentityLabels(ref)).map(([k, v]) => `${k}=${v}`).join(',');
    const list = await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: 'spiderippools', labelSelector }) as { items: SpiderIPPool[] };
    return list.items;
  };

  const deletePool = async (pool: SpiderIPPool, why: string): Promise<void> => {
    if (pool.metadata.deletionTimestamp) return;
    try {
      await custom.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: 'spiderippools', name: pool.metadata.name });
      log.info('deleted auto-created IPPool', { pool: pool.metadata.name, why });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  };

  /** The application's records of pools not in `keep`; the subnet's ledger is written by no one else. */
  const forgetMissing = async (ref: AppRef, keep: ReadonlySet<string>): Promise<void> => {
    const record = applicationRecord(ref);
    for (const subnet of subnets.list()) {
      if ([...ledgerOf(subnet)].some(([pool, entry]) => entry.application === record && !keep.has(pool))) {
        await writer.forget(subnet.metadata.name, record, keep);
      }
    }
  };

  const reclaim = async (ref: AppRef): Promise<void> => {
    const existing = await listPools(ref);
    for (const pool of existing) {
      if (isReclaimable(pool)) await deletePool(pool, `${describeApp(ref)} no longer exists`);
    }
    // A pool being deleted keeps its addresses reserved until it is gone: pods may still use them.
    await forgetMissing(ref, new Set(existing.map((p) => p.metadata.name)));
  };

  const reconcileApp = async (app: Application, requests: AutoPoolRequest[]): Promise<Result | void> => {
    const existing = await listPools(app);
    for (const pool of existing) {
      if (isStalePredecessor(pool, app)) await deletePool(pool, `it belonged to an earlier ${describeApp(app)} (UID ${pool.metadata.labels?.[POOL_LABEL.ownerApplicationUID]})`);
    }
    const usable = existing.filter((p) => !isStalePredecessor(p, app));
    const keep = new Set(existing.map((p) => p.metadata.name));
    let waiting = false;
    for (const req of requests) {
      const outcome = await writer.ensure(app, req, pickPool(usable, app, req)?.metadata.name);
      if (outcome.kind === 'done') {
        keep.add(outcome.pool);
        continue;
      }
      const object = { apiVersion: app.apiVersion, kind: app.kind, namespace: app.namespace, name: app.name, uid: app.uid };
      // Logged as a warning once per distinct problem, like the event; repeats while it lasts are debug.
      const fresh = await events.warning(object, outcome.reason, outcome.message);
      log.log(fresh ? 'warn' : 'debug', 'cannot provide auto-created IPPool', { application: describeApp(app), nic: req.nic, family: req.family, subnet: req.subnet, reason: outcome.reason, detail: outcome.message });
      waiting ||= outcome.kind === 'wait';
      if (outcome.kind === 'stop') return;
    }
    await forgetMissing(app, keep);
    if (waiting) return { requeueAfterMs: AUTO_POOL_RETRY_MS };
    events.clear(app.uid);
  };

  const reconciler: Reconciler = {
    name: 'subnet-auto-pool',
    watches: [
      ...APP_KIND_NAMES.map((kind) => ({
        kind: APP_KINDS[kind],
        keys: (obj: KubernetesObject) => {
          const app = applicationOf(kind, obj);
          return app ? [appKey(app)] : [];
        },
      })),
      {
        kind: SPIDER_IPPOOL,
        keys: (obj: KubernetesObject) => {
          const ref = poolApplication(obj as SpiderIPPool);
          return ref ? [appKey(ref)] : [];
        },
      },
      { kind: SPIDER_SUBNET, keys: (obj: KubernetesObject) => subnetKeys(obj as SpiderSubnet) },
    ],

    async reconcile(key) {
      const ref = parseAppKey(key);
      if (!ref) {
        log.error('malformed auto-pool key', { key });
        return;
      }
      const obj = apps(ref.kind).get(`${ref.namespace}/${ref.name}`);
      const app = obj && applicationOf(ref.kind, obj);
      if (!app) return await reclaim(ref);
      if (app.terminating) return;
      let requests: AutoPoolRequest[];
      try {
        requests = autoPoolRequests(app);
      } catch (err) {
        if (!(err instanceof SelectionError)) throw err;
        const object = { apiVersion: app.apiVersion, kind: app.kind, namespace: app.namespace, name: app.name, uid: app.uid };
        const fresh = await events.warning(object, 'InvalidIPAMAnnotation', err.message);
        log.log(fresh ? 'warn' : 'debug', 'invalid IPAM annotation on pod template', { application: describeApp(app), err: err.message });
        return;
      }
      const withoutPool = allRecordsWithoutPool();
      if (requests.length === 0) {
        // An application whose template no longer names a subnet keeps its pools until it is deleted
        // (its running pods may still hold addresses from them); only reservations for pools it never
        // got are let go.
        if (withoutPool.has(applicationRecord(app))) await forgetMissing(app, new Set((await listPools(app)).map((p) => p.metadata.name)));
        return;
      }
      if (satisfied(app, requests, poolsByApp().get(key) ?? [], withoutPool)) return;
      return await reconcileApp(app, requests);
    },
  };
  return reconciler;
};

/** A reclaimable pool of an earlier application with the same kind, namespace and name. */
function isStalePredecessor(pool: SpiderIPPool, app: Application): boolean {
  return pool.metadata.labels?.[POOL_LABEL.ownerApplicationUID] !== app.uid && isReclaimable(pool);
}

function servesRequest(pool: SpiderIPPool, req: AutoPoolRequest): boolean {
  const labels = pool.metadata.labels ?? {};
  return labels[POOL_LABEL.interface] === req.nic && labels[POOL_LABEL.ipVersion] === `IPv${req.family}`;
}

/**
 * The pool to size for the request: the application's own, else one that an earlier application of the
 * same name kept (`ippool-reclaim: "false"`) in the same subnet, which the new one takes over with its
 * addresses (§6.3).
 */
function pickPool(usable: SpiderIPPool[], app: Application, req: AutoPoolRequest): SpiderIPPool | undefined {
  const candidates = usable.filter((p) => servesRequest(p, req)).sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
  return (
    candidates.find((p) => p.metadata.labels?.[POOL_LABEL.ownerApplicationUID] === app.uid) ??
    candidates.find((p) => p.metadata.labels?.[POOL_LABEL.ownerSpiderSubnet] === req.subnet && !p.metadata.deletionTimestamp)
  );
}
