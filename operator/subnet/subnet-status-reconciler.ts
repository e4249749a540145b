// The subnet controller (docs/auto-pools.md#subnet-status): keeps SpiderSubnet.status true. Manual pools of the
// subnet's CIDR are adopted (label, controller reference, inherited gateway and routes) and recorded in the ledger with
// the addresses they take. The records of auto-created pools belong to the application controller, which writes them
// before it creates or grows a pool and drops them once the pool is gone; here they are only carried over (and dropped
// when unreadable). A terminating subnet deletes its pools and lets go of its finalizer once its ledger is empty.
import { CustomObjectsApi } from '@kubernetes/client-node';
import { Gauge } from 'prom-client';
import { isAutoCreatedPool } from '../../ipam/selection/pools.ts';
import {
  AUTO_POOL_LABEL,
  FINALIZER,
  GROUP,
  OWNER_SUBNET_LABEL,
  SUBNET_CIDR_LABEL,
  VERSION,
} from '../../api/v2beta1/constants.ts';
import { KINDS, type ApiKind } from '../../api/v2beta1/kinds.ts';
import type { SpiderIPPool, SpiderSubnet } from '../../api/v2beta1/types.ts';
import { IPSet, cidrToLabelValue } from '../../lib/ip/index.ts';
import type { Reconciler, ReconcilerContext } from '../runtime/types.ts';
import { orError } from '../or-error.ts';
import { controllerReference } from '../owner-reference.ts';
import { subnetFamily, subnetIPs } from './carve.ts';
import { deletePool } from './delete-pool.ts';
import {
  ControlledPoolsError,
  parseControlledPools,
  sameSubnetStatus,
  subnetStatusFor,
  type ControlledPools,
} from './controlled-pools.ts';

/**
 * Per-subnet gauges (docs/metrics.md#controller; Spiderpool implements them as ever-growing counters; these are
 * gauges).
 */
const SUBNET_METRICS = {
  ippools: 'spiderpool_debug_subnet_ippool_counts',
  total: 'spiderpool_debug_subnet_total_ip_counts',
  available: 'spiderpool_debug_subnet_available_ip_counts',
} as const;

export const SUBNET_STATUS_RECONCILER = 'subnet-status';

export function createSubnetStatusReconciler({ caches, kubeConfig, log, registry }: ReconcilerContext): Reconciler {
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const subnets = caches.of<SpiderSubnet>(KINDS.SpiderSubnet);
  const pools = caches.of<SpiderIPPool>(KINDS.SpiderIPPool);
  const gauge = (name: string, help: string) =>
    new Gauge({ name, help, labelNames: ['SpiderSubnet'], registers: [registry] });
  const metrics = {
    ippools: gauge(SUBNET_METRICS.ippools, 'Number of SpiderIPPools controlled by the SpiderSubnet'),
    total: gauge(SUBNET_METRICS.total, 'Addresses of the SpiderSubnet (ips minus excludeIPs)'),
    available: gauge(SUBNET_METRICS.available, 'Addresses of the SpiderSubnet not yet given to any SpiderIPPool'),
  };
  // Read from the cache at scrape time, like spiderpool_total_ippool_counts, so every replica reports it.
  new Gauge({
    name: 'spiderpool_total_subnet_counts',
    help: 'Number of SpiderSubnets',
    registers: [registry],
    collect() {
      this.set(subnets.list().length);
    },
  });

  const update = async (kind: ApiKind, body: SpiderIPPool | SpiderSubnet): Promise<void> => {
    await custom.replaceClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: kind.plural,
      name: body.metadata.name,
      body,
    });
  };

  /** Same-CIDR pools that no subnet controls yet get this one as their owner, gateway and routes. */
  const adopt = async (subnet: SpiderSubnet, orphans: SpiderIPPool[]): Promise<void> => {
    for (const pool of orphans) {
      const hasController = pool.metadata.ownerReferences?.some((r) => r.controller);
      await update(KINDS.SpiderIPPool, {
        ...pool,
        metadata: {
          ...pool.metadata,
          labels: { ...pool.metadata.labels, [OWNER_SUBNET_LABEL]: subnet.metadata.name },
          ownerReferences: hasController
            ? pool.metadata.ownerReferences
            : [...(pool.metadata.ownerReferences ?? []), controllerReference(KINDS.SpiderSubnet, subnet)],
        },
        spec: {
          ...pool.spec,
          ...(pool.spec.gateway === undefined && subnet.spec.gateway !== undefined
            ? { gateway: subnet.spec.gateway }
            : {}),
          ...(pool.spec.routes === undefined && subnet.spec.routes !== undefined ? { routes: subnet.spec.routes } : {}),
        },
      });
      log.info('SpiderSubnet adopted SpiderIPPool', { subnet: subnet.metadata.name, pool: pool.metadata.name });
    }
  };

  const rebuildLedger = (subnet: SpiderSubnet, controlled: SpiderIPPool[]): ControlledPools => {
    const name = subnet.metadata.name;
    const family = subnetFamily(subnet);
    const subnetSet = subnetIPs(subnet);
    const poolIPs = (pool: SpiderIPPool): string[] =>
      IPSet.fromRanges(pool.spec.ips ?? [], family)
        .subtract(IPSet.fromRanges(pool.spec.excludeIPs ?? [], family))
        .intersect(subnetSet)
        .toRanges();
    const readable = controlled.filter((pool) =>
      validRanges([...(pool.spec.ips ?? []), ...(pool.spec.excludeIPs ?? [])], family),
    );
    let ledger = orError(() => parseControlledPools(subnet), ControlledPoolsError);
    if (ledger instanceof ControlledPoolsError) {
      // The auto-created pools keep what they hold; reservations for pools not made yet are lost.
      log.warn('replacing unreadable SpiderSubnet ledger with the addresses its pools hold', {
        subnet: name,
        err: ledger.message,
      });
      ledger = new Map(
        readable.flatMap((pool) => {
          const application = applicationOfLabels(pool);
          return application ? [[pool.metadata.name, { ips: poolIPs(pool), application }] as const] : [];
        }),
      );
    }
    const next: ControlledPools = new Map();
    for (const [pool, entry] of ledger) {
      if (entry.application === undefined) continue;
      if (!validRanges(entry.ips, family)) {
        log.warn('dropping SpiderSubnet record with malformed IP ranges', { subnet: name, pool, ips: entry.ips });
        continue;
      }
      next.set(pool, entry);
    }
    for (const pool of readable) {
      if (!isAutoCreatedPool(pool) && !next.has(pool.metadata.name))
        next.set(pool.metadata.name, { ips: poolIPs(pool) });
    }
    return next;
  };

  const finishDeletion = async (
    subnet: SpiderSubnet,
    controlled: SpiderIPPool[],
    ledger: ControlledPools,
  ): Promise<void> => {
    for (const pool of controlled) await deletePool(custom, pool);
    if (ledger.size > 0 || !subnet.metadata.finalizers?.includes(FINALIZER)) return;
    await update(KINDS.SpiderSubnet, {
      ...subnet,
      metadata: { ...subnet.metadata, finalizers: subnet.metadata.finalizers.filter((f) => f !== FINALIZER) },
    });
    log.info('SpiderSubnet released: no pool left', { subnet: subnet.metadata.name });
  };

  return {
    name: SUBNET_STATUS_RECONCILER,
    watches: [
      { kind: KINDS.SpiderSubnet, keys: (obj) => [obj.metadata?.name ?? ''] },
      { kind: KINDS.SpiderIPPool, keys: (obj) => subnetsOfPool(obj as SpiderIPPool, subnets.list()) },
    ],

    async reconcile(name) {
      const subnet = subnets.get(name);
      if (!subnet) {
        for (const gauge of Object.values(metrics)) gauge.remove({ SpiderSubnet: name });
        return;
      }
      const terminating = !!subnet.metadata.deletionTimestamp;
      const cidrLabel = cidrToLabelValue(subnet.spec.subnet);
      if (!terminating && subnet.metadata.labels?.[SUBNET_CIDR_LABEL] !== cidrLabel) {
        // The write brings the subnet back with a new resourceVersion, and the rest with it.
        return await update(KINDS.SpiderSubnet, {
          ...subnet,
          metadata: { ...subnet.metadata, labels: { ...subnet.metadata.labels, [SUBNET_CIDR_LABEL]: cidrLabel } },
        });
      }
      const all = pools.list();
      const orphans = terminating
        ? []
        : all.filter(
            (p) =>
              p.spec.subnet === subnet.spec.subnet &&
              !p.metadata.deletionTimestamp &&
              !isAutoCreatedPool(p) &&
              p.metadata.labels?.[OWNER_SUBNET_LABEL] === undefined,
          );
      if (orphans.length > 0) return await adopt(subnet, orphans);
      const controlled = all.filter(
        (p) => p.metadata.labels?.[OWNER_SUBNET_LABEL] === name && p.spec.subnet === subnet.spec.subnet,
      );
      const ledger = rebuildLedger(subnet, controlled);
      const status = subnetStatusFor(subnet, ledger);
      if (!sameSubnetStatus(subnet.status, status)) {
        await custom.replaceClusterCustomObjectStatus({
          group: GROUP,
          version: VERSION,
          plural: KINDS.SpiderSubnet.plural,
          name,
          body: { ...subnet, status },
        });
      }
      metrics.ippools.set({ SpiderSubnet: name }, controlled.length);
      metrics.total.set({ SpiderSubnet: name }, status.totalIPCount ?? 0);
      metrics.available.set(
        { SpiderSubnet: name },
        Math.max(0, (status.totalIPCount ?? 0) - (status.allocatedIPCount ?? 0)),
      );
      if (terminating) await finishDeletion(subnet, controlled, ledger);
    },
  };
}

function validRanges(ranges: string[], family: 4 | 6): boolean {
  try {
    IPSet.fromRanges(ranges, family);
    return true;
  } catch {
    return false;
  }
}

/** `<gv>_<Kind>_<namespace>_<name>` from an auto-created pool's owner-application labels. */
function applicationOfLabels(pool: SpiderIPPool): string | undefined {
  const labels = pool.metadata.labels ?? {};
  const parts = [
    AUTO_POOL_LABEL.ownerApplicationGV,
    AUTO_POOL_LABEL.ownerApplicationKind,
    AUTO_POOL_LABEL.ownerApplicationNamespace,
    AUTO_POOL_LABEL.ownerApplicationName,
  ].map((k) => labels[k]);
  return parts.every((p) => p) ? parts.join('_') : undefined;
}

/** The subnet that controls the pool, and the subnets of its CIDR that may adopt it. */
function subnetsOfPool(pool: SpiderIPPool, subnets: SpiderSubnet[]): string[] {
  const owner = pool.metadata.labels?.[OWNER_SUBNET_LABEL];
  const sameCIDR = subnets.filter((s) => s.spec.subnet === pool.spec?.subnet).map((s) => s.metadata.name);
  return [...new Set([...(owner ? [owner] : []), ...sameCIDR])];
}
