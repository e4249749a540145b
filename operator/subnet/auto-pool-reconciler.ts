// The application controller (docs/auto-pools.md): for every Deployment, ReplicaSet, StatefulSet, DaemonSet and Job
// whose pod template names a SpiderSubnet, one auto-created pool per NIC and family, sized to the replica
// count and reclaimed with the application unless `ipam.spidernet.io/ippool-reclaim: "false"`.
// Keys are `Kind/namespace/name`; an application that is gone from its cache gets its reclaimable pools
// deleted, so a deletion missed while the operator was down is caught up by the pool's own key.
// A reconcile fetches the application from the cache, compares what it asks for with what the cache shows
// (auto-pool-view.ts), and only when they differ acts on fresh reads (auto-pool-actions.ts).
import { CustomObjectsApi, type KubernetesObject } from '@kubernetes/client-node';
import { SelectionError } from '../../ipam/selection/errors.ts';
import { KINDS } from '../../api/v2beta1/kinds.ts';
import type { SpiderIPPool, SpiderSubnet } from '../../api/v2beta1/types.ts';
import { orError } from '../or-error.ts';
import type { Key, Reconciler, ReconcilerContext, Result } from '../runtime/types.ts';
import {
  appKey,
  applicationOf,
  applicationRecord,
  autoPoolRequests,
  parseAppKey,
  type Application,
  type AutoPoolRequest,
} from './application.ts';
import { poolApplication } from './auto-pool.ts';
import {
  type AutoPoolDeps,
  ensureAppPools,
  forgetMissing,
  listAppPools,
  reclaimPools,
  warnApplication,
} from './auto-pool-actions.ts';
import {
  APP_KIND_NAMES,
  allRecordsWithoutPool,
  applicationsOfSubnet,
  autoPoolCaches,
  cacheShowsServed,
  poolsByApp,
} from './auto-pool-view.ts';
import { AutoPoolWriter } from './ensure-auto-pool.ts';
import { APP_KINDS, CRON_JOB_V1BETA1, type AppKind } from './kinds.ts';

export const AUTO_POOL_RECONCILER = 'subnet-auto-pool';

export function createAutoPoolReconciler({ caches, kubeConfig, log, events }: ReconcilerContext): Reconciler {
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const view = autoPoolCaches(caches);
  const writer = new AutoPoolWriter(custom, {
    pools: () => view.pools.list(),
    reservedIPs: () => view.reservedIPs.list(),
  });
  const deps: AutoPoolDeps = { custom, writer, view, events, log };
  return {
    name: AUTO_POOL_RECONCILER,
    watches: [
      ...APP_KIND_NAMES.map((kind) => ({
        kind: APP_KINDS[kind],
        keys: (obj: KubernetesObject) => keysOfApp(kind, obj),
      })),
      { kind: CRON_JOB_V1BETA1, keys: (obj: KubernetesObject) => keysOfApp('CronJob', obj) },
      { kind: KINDS.SpiderIPPool, keys: (obj: KubernetesObject) => keysOfPool(obj as SpiderIPPool) },
      { kind: KINDS.SpiderSubnet, keys: (obj: KubernetesObject) => applicationsOfSubnet(view, obj as SpiderSubnet) },
    ],
    reconcile: (key) => reconcileApplication(deps, key),
  };
}

function keysOfApp(kind: AppKind, obj: KubernetesObject): Key[] {
  const app = applicationOf(kind, obj);
  return app ? [appKey(app)] : [];
}

function keysOfPool(pool: SpiderIPPool): Key[] {
  const ref = poolApplication(pool);
  return ref ? [appKey(ref)] : [];
}

async function reconcileApplication(deps: AutoPoolDeps, key: Key): Promise<Result | void> {
  const ref = parseAppKey(key);
  if (!ref) return void deps.log.error('malformed auto-pool key', { key });
  const obj = deps.view.apps(ref.kind).get(`${ref.namespace}/${ref.name}`);
  const app = obj && applicationOf(ref.kind, obj);
  if (!app) return await reclaimPools(deps, ref);
  if (app.terminating) return;
  const requests = await requestedPools(deps, app);
  if (!requests) return;
  const withoutPool = allRecordsWithoutPool(deps.view);
  if (requests.length === 0) {
    // An application whose template no longer names a subnet keeps its pools until it is deleted (its
    // running pods may still hold addresses from them); only reservations for pools it never got are let go.
    if (withoutPool.has(applicationRecord(app)))
      await forgetMissing(deps, app, new Set((await listAppPools(deps.custom, app)).map((p) => p.metadata.name)));
    return;
  }
  if (cacheShowsServed(deps.view, app, requests, poolsByApp(deps.view.pools.list()).get(key) ?? [], withoutPool))
    return;
  return await ensureAppPools(deps, app, requests);
}

/**
 * The pools the application's template asks for, or undefined (and a Warning) when its IPAM annotations are invalid.
 */
async function requestedPools(deps: AutoPoolDeps, app: Application): Promise<AutoPoolRequest[] | undefined> {
  const requests = orError(() => autoPoolRequests(app), SelectionError);
  if (!(requests instanceof SelectionError)) return requests;
  const { message } = requests;
  await warnApplication(deps, app, 'InvalidIPAMAnnotation', message, 'invalid IPAM annotation on pod template', {
    err: message,
  });
  return undefined;
}
