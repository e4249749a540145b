// What the caches say about auto-created pools: the cheap checks that keep an application whose pools are
// as they should be off the apiserver, and the applications a changed subnet may concern. Nothing here
// writes, and every answer may be stale: a "not served" leads to a reconcile on fresh reads, never
// straight to a write.
import { SelectionError } from '../../ipam/selection/errors.ts';
import { ANNOTATION, AUTO_POOL_LABEL } from '../../api/v2beta1/constants.ts';
import { KINDS } from '../../api/v2beta1/kinds.ts';
import type { SpiderIPPool, SpiderReservedIP, SpiderSubnet } from '../../api/v2beta1/types.ts';
import { IPSet } from '../../lib/ip/index.ts';
import type { Caches, ReadCache } from '../runtime/types.ts';
import {
  appKey,
  applicationOf,
  applicationRecord,
  autoPoolRequests,
  parseApplicationRecord,
  type Application,
  type AutoPoolRequest,
} from './application.ts';
import { isStalePredecessor, poolApplication, servesRequest } from './auto-pool.ts';
import { parseControlledPools, type ControlledPools } from './controlled-pools.ts';
import { APP_KINDS, CRON_JOB_V1BETA1, type AppKind } from './kinds.ts';

export const APP_KIND_NAMES = Object.keys(APP_KINDS) as AppKind[];

/** The caches the auto-pool reconciler reads, with each cached subnet's ledger parsed once. */
export interface AutoPoolCaches {
  pools: ReadCache<SpiderIPPool>;
  subnets: ReadCache<SpiderSubnet>;
  reservedIPs: ReadCache<SpiderReservedIP>;
  apps(kind: AppKind): ReadCache;
  /** The subnet's records; an unreadable ledger reads as empty here (the subnet-status reconciler rebuilds it). */
  ledgerOf(subnet: SpiderSubnet): ControlledPools;
}

export function autoPoolCaches(caches: Caches): AutoPoolCaches {
  // Cached objects are replaced, never changed, so a parsed ledger stays valid for its object.
  const ledgers = new WeakMap<SpiderSubnet, ControlledPools>();
  return {
    pools: caches.of<SpiderIPPool>(KINDS.SpiderIPPool),
    subnets: caches.of<SpiderSubnet>(KINDS.SpiderSubnet),
    reservedIPs: caches.of<SpiderReservedIP>(KINDS.SpiderReservedIP),
    apps: (kind) => (kind === 'CronJob' ? cronJobs(caches) : caches.of(APP_KINDS[kind])),
    ledgerOf(subnet) {
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
    },
  };
}

/** The CronJobs of whichever version the cluster serves (both, from 1.21 to 1.24, list the same objects). */
function cronJobs(caches: Caches): ReadCache {
  const v1 = caches.of(APP_KINDS.CronJob);
  const v1beta1 = caches.of(CRON_JOB_V1BETA1);
  return {
    get: (key) => v1.get(key) ?? v1beta1.get(key),
    list: (namespace) => {
      const seen = v1.list(namespace);
      const names = new Set(seen.map((o) => `${o.metadata?.namespace}/${o.metadata?.name}`));
      return [
        ...seen,
        ...v1beta1.list(namespace).filter((o) => !names.has(`${o.metadata?.namespace}/${o.metadata?.name}`)),
      ];
    },
  };
}

/** Application records that the subnet reserves addresses for in a pool the cache does not show. */
function recordsWithoutPool(view: AutoPoolCaches, subnet: SpiderSubnet): string[] {
  return [...view.ledgerOf(subnet)].flatMap(([pool, entry]) =>
    entry.application !== undefined && !view.pools.get(pool) ? [entry.application] : [],
  );
}

export function allRecordsWithoutPool(view: AutoPoolCaches): Set<string> {
  return new Set(view.subnets.list().flatMap((subnet) => recordsWithoutPool(view, subnet)));
}

/** Cached pools by application key. */
export function poolsByApp(pools: SpiderIPPool[]): Map<string, SpiderIPPool[]> {
  const index = new Map<string, SpiderIPPool[]>();
  for (const pool of pools) {
    const ref = poolApplication(pool);
    if (!ref) continue;
    const key = appKey(ref);
    const own = index.get(key);
    if (own) own.push(pool);
    else index.set(key, [pool]);
  }
  return index;
}

/**
 * The pools the application's template asks for; none while its IPAM annotations are invalid (its reconcile reports
 * them).
 */
function requestsOf(app: Application): AutoPoolRequest[] {
  try {
    return autoPoolRequests(app);
  } catch (err) {
    if (err instanceof SelectionError) return [];
    throw err;
  }
}

/** Whether the cache already shows every pool of the application (`own`) as it should be. */
export function cacheShowsServed(
  view: AutoPoolCaches,
  app: Application,
  requests: AutoPoolRequest[],
  own: SpiderIPPool[],
  withoutPool: ReadonlySet<string>,
): boolean {
  try {
    if (own.some((p) => isStalePredecessor(p, app)) || withoutPool.has(applicationRecord(app))) return false;
    return requests.every((req) => cacheShowsRequestServed(view, app, req, own));
  } catch {
    // Malformed ranges or ledger: the full reconcile reports them.
    return false;
  }
}

function cacheShowsRequestServed(
  view: AutoPoolCaches,
  app: Application,
  req: AutoPoolRequest,
  own: SpiderIPPool[],
): boolean {
  const pool = own.find(
    (p) => p.metadata.labels?.[AUTO_POOL_LABEL.ownerApplicationUID] === app.uid && servesRequest(p, req),
  );
  if (!pool || pool.metadata.deletionTimestamp) return false;
  const labels = pool.metadata.labels ?? {};
  if (
    labels[AUTO_POOL_LABEL.ownerSpiderSubnet] !== req.subnet ||
    labels[AUTO_POOL_LABEL.reclaim] !== String(req.reclaim)
  )
    return false;
  if (pool.metadata.annotations?.[ANNOTATION.ippoolIPNumber] !== req.ipNumber) return false;
  const ips = IPSet.fromRanges(pool.spec.ips ?? [], req.family);
  if (ips.count() !== BigInt(req.size)) return false;
  const subnet = view.subnets.get(req.subnet);
  if (!subnet) return false;
  const entry = view.ledgerOf(subnet).get(pool.metadata.name);
  return entry?.application === applicationRecord(app) && IPSet.fromRanges(entry.ips, req.family).equals(ips);
}

/**
 * Applications that name the subnet and are not yet served (a change of the subnet may be what they
 * wait for), and those the subnet keeps addresses for in pools that do not exist.
 */
export function applicationsOfSubnet(view: AutoPoolCaches, subnet: SpiderSubnet): string[] {
  const name = subnet.metadata.name;
  const index = poolsByApp(view.pools.list());
  const withoutPool = allRecordsWithoutPool(view);
  const keys = recordsWithoutPool(view, subnet).flatMap((record) => {
    const ref = parseApplicationRecord(record);
    return ref ? [appKey(ref)] : [];
  });
  for (const kind of APP_KIND_NAMES) {
    for (const obj of view.apps(kind).list()) {
      const app = applicationOf(kind, obj);
      if (!app || app.terminating) continue;
      const requests = requestsOf(app);
      if (
        requests.some((r) => r.subnet === name) &&
        !cacheShowsServed(view, app, requests, index.get(appKey(app)) ?? [], withoutPool)
      )
        keys.push(appKey(app));
    }
  }
  return keys;
}
