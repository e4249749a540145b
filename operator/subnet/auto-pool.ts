// The shape of an auto-created SpiderIPPool (docs/auto-pools.md#pool-shape): its name, the labels by which the agent
// finds it (ipam/selection/auto-pools.ts) and the podAffinity that binds it to one application
// (ipam/selection/filters.ts).
import { ANNOTATION, APP_AFFINITY_LABEL, AUTO_POOL_LABEL, POOL_CIDR_LABEL } from '../../api/v2beta1/constants.ts';
import { KINDS } from '../../api/v2beta1/kinds.ts';
import type { SpiderIPPool, SpiderSubnet } from '../../api/v2beta1/types.ts';
import { IPSet, cidrToLabelValue } from '../../lib/ip/index.ts';
import { controllerReference } from '../owner-reference.ts';
import { gvOf, type AppRef, type Application, type AutoPoolRequest } from './application.ts';
import { APP_KINDS, isAppKind } from './kinds.ts';

const MAX_NAME = 253;

/**
 * `auto4-<app>-<nic>-<uid tail>`, the uid tail being the first 5 characters of the last `-`-separated
 * segment of the application's UID; the application name is shortened so the whole fits 253 characters.
 */
export function autoPoolName(app: Application, nic: string, family: 4 | 6): string {
  const suffix = `-${nic.toLowerCase()}-${uidTail(app.uid)}`;
  const prefix = `auto${family}-`;
  // A shortened name must not end in '.' (a DNS label cannot end there) or '-'.
  const name = app.name
    .toLowerCase()
    .slice(0, MAX_NAME - prefix.length - suffix.length)
    .replace(/[.-]+$/, '');
  return `${prefix}${name}${suffix}`;
}

const uidTail = (uid: string): string => (uid.split('-').pop() ?? '').slice(0, 5).toLowerCase();

/** The application an auto-created pool was made for, when it is of a kind this controller manages. */
export function poolApplication(pool: SpiderIPPool): AppRef | undefined {
  const labels = pool.metadata.labels ?? {};
  const kind = labels[AUTO_POOL_LABEL.ownerApplicationKind] ?? '';
  const namespace = labels[AUTO_POOL_LABEL.ownerApplicationNamespace];
  const name = labels[AUTO_POOL_LABEL.ownerApplicationName];
  if (!isAppKind(kind) || !namespace || !name) return undefined;
  if (labels[AUTO_POOL_LABEL.ownerApplicationGV] !== `${APP_KINDS[kind].group}_${APP_KINDS[kind].version}`)
    return undefined;
  return { kind, namespace, name };
}

export const isReclaimable = (pool: SpiderIPPool): boolean =>
  pool.metadata.labels?.[AUTO_POOL_LABEL.reclaim] !== 'false';

/** Labels that identify the application, without its UID: the same for every incarnation of it. */
export function appIdentityLabels(ref: AppRef): Record<string, string> {
  return {
    [AUTO_POOL_LABEL.ownerApplicationGV]: `${gvOf(ref).group}_${gvOf(ref).version}`,
    [AUTO_POOL_LABEL.ownerApplicationKind]: ref.kind,
    [AUTO_POOL_LABEL.ownerApplicationNamespace]: ref.namespace,
    [AUTO_POOL_LABEL.ownerApplicationName]: ref.name,
  };
}

function autoPoolLabels(app: Application, req: AutoPoolRequest, subnet: SpiderSubnet): Record<string, string> {
  return {
    ...appIdentityLabels(app),
    [AUTO_POOL_LABEL.ownerApplicationUID]: app.uid,
    [AUTO_POOL_LABEL.ownerSpiderSubnet]: subnet.metadata.name,
    [AUTO_POOL_LABEL.interface]: req.nic,
    [AUTO_POOL_LABEL.ipVersion]: `IPv${req.family}`,
    [AUTO_POOL_LABEL.reclaim]: String(req.reclaim),
    [POOL_CIDR_LABEL]: cidrToLabelValue(subnet.spec.subnet),
  };
}

/**
 * A new auto-created pool. The subnet is its controller owner, so deleting the subnet deletes it; the
 * application cannot be, since a cluster-scoped object cannot have a namespaced owner. Gateway and routes
 * are the subnet's.
 */
export function newAutoPool(
  name: string,
  app: Application,
  req: AutoPoolRequest,
  subnet: SpiderSubnet,
  ips: string[],
): SpiderIPPool {
  const { group, version } = gvOf(app);
  return {
    apiVersion: KINDS.SpiderIPPool.apiVersion,
    kind: KINDS.SpiderIPPool.kind,
    metadata: {
      name,
      labels: autoPoolLabels(app, req, subnet),
      annotations: { [ANNOTATION.ippoolIPNumber]: req.ipNumber },
      ownerReferences: [controllerReference(KINDS.SpiderSubnet, subnet)],
    },
    spec: {
      ipVersion: req.family,
      subnet: subnet.spec.subnet,
      ips,
      ...(subnet.spec.gateway ? { gateway: subnet.spec.gateway } : {}),
      ...(subnet.spec.routes ? { routes: subnet.spec.routes } : {}),
      podAffinity: {
        matchLabels: {
          [APP_AFFINITY_LABEL.group]: group,
          [APP_AFFINITY_LABEL.version]: version,
          [APP_AFFINITY_LABEL.kind]: app.kind,
          [APP_AFFINITY_LABEL.namespace]: app.namespace,
          [APP_AFFINITY_LABEL.name]: app.name,
        },
      },
    },
  };
}

/**
 * The existing pool brought up to date: its addresses, the annotation that sized it and the labels that
 * may change over its life (a re-created application takes over a kept pool with its new UID and reclaim
 * choice). Returns undefined when nothing differs.
 */
export function updatedAutoPool(
  pool: SpiderIPPool,
  app: Application,
  req: AutoPoolRequest,
  subnet: SpiderSubnet,
  ips: IPSet,
): SpiderIPPool | undefined {
  const labels = { ...pool.metadata.labels, ...autoPoolLabels(app, req, subnet) };
  const annotations = { ...pool.metadata.annotations, [ANNOTATION.ippoolIPNumber]: req.ipNumber };
  const same =
    IPSet.fromRanges(pool.spec.ips ?? [], req.family).equals(ips) &&
    Object.entries(labels).every(([k, v]) => pool.metadata.labels?.[k] === v) &&
    pool.metadata.annotations?.[ANNOTATION.ippoolIPNumber] === req.ipNumber;
  if (same) return undefined;
  return { ...pool, metadata: { ...pool.metadata, labels, annotations }, spec: { ...pool.spec, ips: ips.toRanges() } };
}

/** A reclaimable pool of an earlier application with the same kind, namespace and name. */
export function isStalePredecessor(pool: SpiderIPPool, app: Application): boolean {
  return pool.metadata.labels?.[AUTO_POOL_LABEL.ownerApplicationUID] !== app.uid && isReclaimable(pool);
}

/** Whether the pool is the one for the request's NIC and family. */
export function servesRequest(pool: SpiderIPPool, req: AutoPoolRequest): boolean {
  const labels = pool.metadata.labels ?? {};
  return labels[AUTO_POOL_LABEL.interface] === req.nic && labels[AUTO_POOL_LABEL.ipVersion] === `IPv${req.family}`;
}

/**
 * The pool to size for the request: the application's own, else one that an earlier application of the
 * same name kept (`ippool-reclaim: "false"`) in the same subnet, which the new one takes over with its
 * addresses (docs/auto-pools.md#reclaim).
 */
export function pickPool(usable: SpiderIPPool[], app: Application, req: AutoPoolRequest): SpiderIPPool | undefined {
  const candidates = usable
    .filter((p) => servesRequest(p, req))
    .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
  return (
    candidates.find((p) => p.metadata.labels?.[AUTO_POOL_LABEL.ownerApplicationUID] === app.uid) ??
    candidates.find(
      (p) => p.metadata.labels?.[AUTO_POOL_LABEL.ownerSpiderSubnet] === req.subnet && !p.metadata.deletionTimestamp,
    )
  );
}
