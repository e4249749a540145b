// Per-pool checks (docs/pool-selection.md#filters): a candidate pool the pod cannot use is dropped, and the reason is
// kept so that, when a family loses every pool, the error can say what to change.
import type { V1Namespace, V1Node, V1Pod } from '@kubernetes/client-node';
import type { LabelSelector, SpiderIPPool } from '../../api/v2beta1/types.ts';
import { describeSelector, matchesSelector, selectorProblem } from './label-selector.ts';
import type { NicNetwork } from './multus.ts';
import type { Family } from '../../lib/ip/index.ts';
import type { TopController } from '../owner.ts';
import { poolFamily } from '../records.ts';
import { APP_AFFINITY_LABEL } from '../../api/v2beta1/constants.ts';
import { isAutoCreatedPool } from './pools.ts';

export interface PoolFilterContext {
  pod: V1Pod;
  namespace: V1Namespace;
  node: V1Node;
  top: TopController;
  nic: string;
  family: Family;
  installNamespace: string;
  /** The network of the NIC; called only for pools with multusName, since most pods never need it. */
  network: () => NicNetwork;
}

/**
 * Why the pod cannot use the pool for this NIC and family, or undefined when it can. Checks in the order of
 * docs/pool-selection.md#filters.
 */
export function rejectReason(pool: SpiderIPPool, ctx: PoolFilterContext): string | undefined {
  if (pool.metadata.deletionTimestamp) return 'terminating';
  if (pool.spec.disable === true) return 'disabled';
  const family = poolFamily(pool);
  if (family !== ctx.family) {
    return pool.spec.ipVersion === undefined
      ? `subnet ${pool.spec.subnet} is IPv${family}, not IPv${ctx.family}`
      : `ipVersion is ${family}, not ${ctx.family}`;
  }
  return nodeReason(pool, ctx) ?? namespaceReason(pool, ctx) ?? podReason(pool, ctx) ?? multusReason(pool, ctx);
}

// nodeName, when non-empty, replaces nodeAffinity.
function nodeReason(pool: SpiderIPPool, ctx: PoolFilterContext): string | undefined {
  const node = ctx.node.metadata?.name ?? ctx.pod.spec?.nodeName ?? '';
  const names = pool.spec.nodeName ?? [];
  if (names.length > 0)
    return names.includes(node) ? undefined : `nodeName ${list(names)} does not include node ${node}`;
  if (pool.spec.nodeAffinity)
    return selectorReason('nodeAffinity', pool.spec.nodeAffinity, ctx.node.metadata?.labels, `node ${node}`);
  return undefined;
}

// namespaceName, when non-empty, replaces namespaceAffinity.
function namespaceReason(pool: SpiderIPPool, ctx: PoolFilterContext): string | undefined {
  const ns = ctx.pod.metadata?.namespace ?? ctx.namespace.metadata?.name ?? '';
  const names = pool.spec.namespaceName ?? [];
  if (names.length > 0)
    return names.includes(ns) ? undefined : `namespaceName ${list(names)} does not include namespace ${ns}`;
  if (pool.spec.namespaceAffinity) {
    return selectorReason(
      'namespaceAffinity',
      pool.spec.namespaceAffinity,
      ctx.namespace.metadata?.labels,
      `namespace ${ns}`,
    );
  }
  return undefined;
}

function podReason(pool: SpiderIPPool, ctx: PoolFilterContext): string | undefined {
  const affinity = pool.spec.podAffinity;
  if (!affinity) return undefined;
  if (!isAutoCreatedPool(pool)) return selectorReason('podAffinity', affinity, ctx.pod.metadata?.labels, 'the pod');
  // An auto-created pool belongs to one application: its app-* labels name the pod's top controller,
  // which pod labels cannot express.
  const [group, version] = splitApiVersion(ctx.top.apiVersion);
  const want: Record<string, string> = {
    [APP_AFFINITY_LABEL.group]: group,
    [APP_AFFINITY_LABEL.version]: version,
    [APP_AFFINITY_LABEL.kind]: ctx.top.kind,
    [APP_AFFINITY_LABEL.namespace]: ctx.top.namespace,
    [APP_AFFINITY_LABEL.name]: ctx.top.name,
  };
  const got = affinity.matchLabels ?? {};
  if (Object.entries(want).every(([k, v]) => got[k] === v)) return undefined;
  const app = (labels: Record<string, string | undefined>): string => {
    const label = (key: string): string => labels[key] ?? '';
    const group = label(APP_AFFINITY_LABEL.group);
    const version = label(APP_AFFINITY_LABEL.version);
    return `${group ? `${group}/${version}` : version} ${label(APP_AFFINITY_LABEL.kind)} ${label(APP_AFFINITY_LABEL.namespace)}/${label(APP_AFFINITY_LABEL.name)}`;
  };
  return `auto-created for ${app(got)}, but the pod belongs to ${app(want)}`;
}

function multusReason(pool: SpiderIPPool, ctx: PoolFilterContext): string | undefined {
  const configured = pool.spec.multusName ?? [];
  if (configured.length === 0) return undefined;
  // Bare names are NetworkAttachmentDefinitions in the install namespace.
  const wanted = configured.map((m) => (m.includes('/') ? m : `${ctx.installNamespace}/${m}`));
  const net = ctx.network();
  if ('unknown' in net)
    return `multusName ${list(wanted)} is set, but the network of ${ctx.nic} is unknown: ${net.unknown}`;
  return wanted.includes(net.network)
    ? undefined
    : `multusName ${list(wanted)} does not include ${net.network} (the network of ${ctx.nic})`;
}

function selectorReason(
  field: string,
  selector: LabelSelector,
  labels: Record<string, string> | undefined,
  whose: string,
): string | undefined {
  const problem = selectorProblem(selector);
  if (problem) return `${field} is invalid: ${problem}`;
  return matchesSelector(selector, labels)
    ? undefined
    : `${field} "${describeSelector(selector)}" does not match the labels of ${whose}`;
}

/** `apps/v1` → [apps, v1]; the core group has no name: `v1` → ['', v1]. */
function splitApiVersion(apiVersion: string): [string, string] {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? ['', apiVersion] : [apiVersion.slice(0, slash), apiVersion.slice(slash + 1)];
}

const list = (items: string[]): string => `[${items.join(', ')}]`;
