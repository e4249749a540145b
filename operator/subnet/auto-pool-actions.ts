// The writes of the auto-pool reconciler. Each starts from a fresh list of the application's pools: the
// cache may not show a pool created a moment ago. The subnet records of an application's pools are
// written only here, under the application's key, which the work queue never reconciles twice at once: a
// record is dropped only once its pool is gone (or was never made), and nothing else can remove a record
// between a carve and the creation of its pool.
import type { CustomObjectsApi } from '@kubernetes/client-node';
import { AUTO_POOL_LABEL, GROUP, VERSION } from '../../api/v2beta1/constants.ts';
import { KINDS } from '../../api/v2beta1/kinds.ts';
import type { SpiderIPPool } from '../../api/v2beta1/types.ts';
import type { Logger } from '../../lib/log.ts';
import type { EventRecorder, InvolvedObject } from '../runtime/events.ts';
import type { Result } from '../runtime/types.ts';
import { applicationRecord, describeApp, type AppRef, type Application, type AutoPoolRequest } from './application.ts';
import { appIdentityLabels, isReclaimable, isStalePredecessor, pickPool } from './auto-pool.ts';
import type { AutoPoolCaches } from './auto-pool-view.ts';
import { deletePool } from './delete-pool.ts';
import type { AutoPoolWriter } from './ensure-auto-pool.ts';

/** Safety net for waits that no watched change ends (the subnet and pool watches normally do). */
const AUTO_POOL_RETRY_MS = 60_000;

/** What the writes use: the API, the carver, the caches for the ledgers, the event recorder and the log. */
export interface AutoPoolDeps {
  custom: CustomObjectsApi;
  writer: AutoPoolWriter;
  view: AutoPoolCaches;
  events: EventRecorder;
  log: Logger;
}

/** The application as the subject of its Warning events: `kubectl describe deployment` says why its pods wait. */
const involvedApp = (app: Application): InvolvedObject => ({
  apiVersion: app.apiVersion,
  kind: app.kind,
  namespace: app.namespace,
  name: app.name,
  uid: app.uid,
});

/** The application's pools, listed by its identity labels. */
export async function listAppPools(custom: CustomObjectsApi, ref: AppRef): Promise<SpiderIPPool[]> {
  const labelSelector = Object.entries(appIdentityLabels(ref))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const list = (await custom.listClusterCustomObject({
    group: GROUP,
    version: VERSION,
    plural: KINDS.SpiderIPPool.plural,
    labelSelector,
  })) as { items: SpiderIPPool[] };
  return list.items;
}

async function deleteAppPool({ custom, log }: AutoPoolDeps, pool: SpiderIPPool, why: string): Promise<void> {
  if (await deletePool(custom, pool)) log.info('deleted auto-created IPPool', { pool: pool.metadata.name, why });
}

/** Drops the application's records of pools not in `keep` from every subnet that has some. */
export async function forgetMissing(
  { writer, view }: AutoPoolDeps,
  ref: AppRef,
  keep: ReadonlySet<string>,
): Promise<void> {
  const record = applicationRecord(ref);
  for (const subnet of view.subnets.list()) {
    if ([...view.ledgerOf(subnet)].some(([pool, entry]) => entry.application === record && !keep.has(pool))) {
      await writer.forget(subnet.metadata.name, record, keep);
    }
  }
}

/** The application is gone: its reclaimable pools are deleted, and its records of pools never made dropped. */
export async function reclaimPools(deps: AutoPoolDeps, ref: AppRef): Promise<void> {
  const existing = await listAppPools(deps.custom, ref);
  for (const pool of existing) {
    if (isReclaimable(pool)) await deleteAppPool(deps, pool, `${describeApp(ref)} no longer exists`);
  }
  // A pool being deleted keeps its addresses reserved until it is gone: pods may still use them.
  await forgetMissing(deps, ref, new Set(existing.map((p) => p.metadata.name)));
  deps.events.resolved(ref);
}

/**
 * Records a Warning on the application; logged as a warning once per distinct problem, like the event, and as debug
 * while it lasts.
 */
export async function warnApplication(
  { events, log }: AutoPoolDeps,
  app: Application,
  reason: string,
  message: string,
  logMessage: string,
  details: object,
): Promise<void> {
  const fresh = await events.warning(involvedApp(app), reason, message);
  log.log(fresh ? 'warn' : 'debug', logMessage, { application: describeApp(app), ...details });
}

/**
 * Brings every requested pool to its size, deleting pools an earlier application of the same name left to
 * be reclaimed. Requeues while a pool waits for addresses; stops at a request that cannot be served.
 */
export async function ensureAppPools(
  deps: AutoPoolDeps,
  app: Application,
  requests: AutoPoolRequest[],
): Promise<Result | void> {
  const existing = await listAppPools(deps.custom, app);
  for (const pool of existing) {
    if (isStalePredecessor(pool, app))
      await deleteAppPool(
        deps,
        pool,
        `it belonged to an earlier ${describeApp(app)} (UID ${pool.metadata.labels?.[AUTO_POOL_LABEL.ownerApplicationUID]})`,
      );
  }
  const usable = existing.filter((p) => !isStalePredecessor(p, app));
  const keep = new Set(existing.map((p) => p.metadata.name));
  let waiting = false;
  for (const req of requests) {
    const outcome = await deps.writer.ensure(app, req, pickPool(usable, app, req)?.metadata.name);
    if (outcome.kind === 'done') {
      keep.add(outcome.pool);
      continue;
    }
    await warnApplication(deps, app, outcome.reason, outcome.message, 'cannot provide auto-created IPPool', {
      nic: req.nic,
      family: req.family,
      subnet: req.subnet,
      reason: outcome.reason,
      detail: outcome.message,
    });
    waiting ||= outcome.kind === 'wait';
    if (outcome.kind === 'stop') return;
  }
  await forgetMissing(deps, app, keep);
  if (waiting) return { requeueAfterMs: AUTO_POOL_RETRY_MS };
  deps.events.resolved(app);
}
