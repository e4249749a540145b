// Which pools the pod names for which interface and family (docs/pool-selection.md#rules, rules 2-5), and whether they
// can serve it. A family is refused only when none of its candidate pools can serve the pod: the agent tries them in
// order, so a disabled pool in a list of fallbacks is no reason to refuse the pod.
import type { V1Namespace, V1Node, V1Pod } from '@kubernetes/client-node';
import type { NetworkAttachmentDefinition, SpiderIPPool } from '../../api/v2beta1/types.ts';
import { ANNOTATION, IPAM_PLUGIN_TYPE } from '../../api/v2beta1/constants.ts';
import {
  expandPoolNames,
  parseNamespaceDefaultPools,
  rejectReason,
  SelectionError,
  selectorProblem,
  type PodIPAMAnnotations,
  type TopController,
} from '../../ipam/selection/index.ts';
import type { Family } from '../../lib/ip/index.ts';
import type { ClusterView } from '../types.ts';
import type { PodNic } from './annotations.ts';
import { forbidden, invalid } from './denied.ts';

const FAMILIES: Family[] = [4, 6];

/** The pools that can give one family of addresses to some interfaces of the pod. */
export interface FamilyChoice {
  /** Where the names came from, e.g. `annotation ipam.spidernet.io/ippools (item 1)`. */
  source: string;
  /** One interface for per-NIC rules; every interface of the pod for the single-NIC rules. */
  nics: string[];
  family: Family;
  /** The candidates that can serve the pod (on its node, when it has one), in the order written. */
  pools: SpiderIPPool[];
}

export interface PoolContext {
  /** With metadata.namespace set: admission may receive pods without it. */
  pod: V1Pod;
  namespace: V1Namespace;
  nics: PodNic[];
  ipam: PodIPAMAnnotations;
  installNamespace: string;
  /** The node of a pod created with spec.nodeName; absent for a pod the scheduler has yet to place. */
  node?: V1Node;
}

/** Names as one rule wrote them, for some interfaces. */
interface PoolRequest {
  source: string;
  nics: PodNic[];
  ipv4: string[];
  ipv6: string[];
}

/**
 * The pools the pod names, per family. Empty when it names none (the cluster default pools then apply,
 * which admission does not second-guess). Throws PodDenied.
 */
export async function choosePools(ctx: PoolContext, cluster: ClusterView): Promise<FamilyChoice[]> {
  const requests = await poolRequests(ctx, cluster);
  if (requests.length === 0) return [];
  const pools = await cluster.listIPPools();
  return requests.flatMap((req) => evaluate(req, pools, ctx));
}

async function poolRequests(ctx: PoolContext, cluster: ClusterView): Promise<PoolRequest[]> {
  const { ipam, nics } = ctx;
  if (ipam.ippools) {
    const named = ipam.ippools.every((item) => item.interface !== undefined);
    return ipam.ippools.map((item, i) => ({
      source: `annotation ${ANNOTATION.ippools} (item ${i})`,
      // Unnamed items go by position: item 0 is eth0, item k the k-th extra network (net<k> unless it asks for a name).
      nics: [
        named
          ? (nics.find((n) => n.name === item.interface) ?? { name: item.interface as string })
          : (nics[i] ?? { name: `net${i}` }),
      ],
      ipv4: item.ipv4,
      ipv6: item.ipv6,
    }));
  }
  if (ipam.ippool) {
    if (ipam.ippool.ipv4.length === 0 && ipam.ippool.ipv6.length === 0) {
      throw invalid(`annotation ${ANNOTATION.ippool} is invalid: it names no IPv4 or IPv6 pool`);
    }
    return [{ source: `annotation ${ANNOTATION.ippool}`, nics, ...ipam.ippool }];
  }
  const nsDefaults = namespaceDefaults(ctx.namespace);
  if (nsDefaults.ipv4.length > 0 || nsDefaults.ipv6.length > 0) {
    return [
      {
        source: `the default pool annotations of namespace ${ctx.namespace.metadata?.name ?? ''}`,
        nics,
        ...nsDefaults,
      },
    ];
  }
  const fromNads = await Promise.all(
    nics.map(async (nic): Promise<PoolRequest[]> => {
      if (nic.network === undefined) return [];
      const [namespace = '', name = ''] = nic.network.split('/');
      const defaults = cniDefaults(await cluster.getNetworkAttachmentDefinition(namespace, name));
      if (defaults.ipv4.length === 0 && defaults.ipv6.length === 0) return [];
      return [
        {
          source: `default_ipv4_ippool/default_ipv6_ippool of NetworkAttachmentDefinition ${nic.network}`,
          nics: [nic],
          ...defaults,
        },
      ];
    }),
  );
  return fromNads.flat();
}

function namespaceDefaults(namespace: V1Namespace): { ipv4: string[]; ipv6: string[] } {
  try {
    return parseNamespaceDefaultPools(namespace);
  } catch (err) {
    if (err instanceof SelectionError) throw invalid(err.message);
    throw err;
  }
}

/**
 * Rule 5: the pool lists of the `spiderpool` IPAM in the NetworkAttachmentDefinition's CNI config. A
 * config that cannot be read is Multus' problem, reported when the pod starts.
 */
function cniDefaults(nad: NetworkAttachmentDefinition | undefined): { ipv4: string[]; ipv6: string[] } {
  const none = { ipv4: [], ipv6: [] };
  let config: unknown;
  try {
    config = JSON.parse(nad?.spec?.config ?? '');
  } catch {
    return none;
  }
  if (!isObject(config)) return none;
  const plugins = Array.isArray(config.plugins) ? config.plugins : [config];
  const ipam = plugins
    .map((p: unknown) => (isObject(p) ? p.ipam : undefined))
    .find((i): i is Record<string, unknown> => isObject(i) && i.type === IPAM_PLUGIN_TYPE);
  if (!ipam) return none;
  const names = (value: unknown): string[] =>
    Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  return { ipv4: names(ipam.default_ipv4_ippool), ipv6: names(ipam.default_ipv6_ippool) };
}

function evaluate(req: PoolRequest, pools: SpiderIPPool[], ctx: PoolContext): FamilyChoice[] {
  const choices: FamilyChoice[] = [];
  const unmatched: string[] = [];
  const byName = new Map(pools.map((p) => [p.metadata.name, p]));
  for (const family of FAMILIES) {
    const entries = family === 4 ? req.ipv4 : req.ipv6;
    if (entries.length === 0) continue;
    const expansion = expand(entries, family, pools, `${req.source} for IPv${family}`);
    if (expansion.names.length === 0) {
      unmatched.push(
        `pattern ${expansion.unmatched.map((p) => `"${p}"`).join(', ')} matched no IPv${family} SpiderIPPool`,
      );
      continue;
    }
    const missing = expansion.names.filter((name) => !byName.has(name));
    if (missing.length > 0) {
      throw forbidden(
        `SpiderIPPool ${missing.map((n) => `"${n}"`).join(', ')} named in ${req.source} ${missing.length > 1 ? 'do' : 'does'} not exist`,
      );
    }
    const usable: SpiderIPPool[] = [];
    const refused: { name: string; why: string }[] = [];
    for (const name of expansion.names) {
      const pool = byName.get(name) as SpiderIPPool;
      const why = poolProblem(pool, family, req.nics, ctx);
      if (why === undefined) usable.push(pool);
      else refused.push({ name, why });
    }
    if (usable.length === 0) throw forbidden(refusal(req, family, refused));
    choices.push({ source: req.source, nics: req.nics.map((n) => n.name), family, pools: usable });
  }
  if (choices.length === 0 && unmatched.length > 0) throw forbidden(`${req.source}: ${unmatched.join('; ')}`);
  return choices;
}

function expand(
  entries: string[],
  family: Family,
  pools: SpiderIPPool[],
  where: string,
): { names: string[]; unmatched: string[] } {
  try {
    return expandPoolNames(entries, family, pools, where);
  } catch (err) {
    if (err instanceof SelectionError) throw invalid(err.message);
    throw err;
  }
}

/**
 * Why the pool cannot serve the pod on any of the interfaces, or undefined. The agent's own filter
 * decides, with two differences: an unscheduled pod's node is not known yet, so the pool's node affinity
 * becomes a scheduling constraint (node-affinity.ts) instead of a reason; and an interface whose network
 * the webhook cannot know (eth0 without a default-network annotation or a configured Multus cluster
 * network) leaves multusName to the agent, rather than refusing a pod that may be fine.
 */
function poolProblem(pool: SpiderIPPool, family: Family, nics: PodNic[], ctx: PoolContext): string | undefined {
  const { nodeName, nodeAffinity, multusName, ...rest } = pool.spec;
  // The agent finds an invalid selector only on the node; here it would become an invalid pod spec.
  const selectorBroken = !ctx.node && !nodeName?.length && nodeAffinity ? selectorProblem(nodeAffinity) : undefined;
  if (selectorBroken) return `nodeAffinity is invalid: ${selectorBroken}`;
  const reasons = new Set<string>();
  for (const nic of nics) {
    const view: SpiderIPPool = {
      ...pool,
      spec: {
        ...rest,
        ...(ctx.node ? { nodeName, nodeAffinity } : {}),
        ...(nic.network === undefined ? {} : { multusName }),
      },
    };
    const why = rejectReason(view, {
      pod: ctx.pod,
      namespace: ctx.namespace,
      node: ctx.node ?? { metadata: { name: '' } },
      top: topController(ctx.pod),
      nic: nic.name,
      family,
      installNamespace: ctx.installNamespace,
      network: () => ({ network: nic.network as string }),
    });
    if (why === undefined) return undefined;
    reasons.add(why);
  }
  return [...reasons].join('; ');
}

function refusal(req: PoolRequest, family: Family, refused: { name: string; why: string }[]): string {
  const nics =
    req.nics.length === 1 ? `interface ${req.nics[0]?.name}` : `interfaces ${req.nics.map((n) => n.name).join(', ')}`;
  const [only] = refused;
  if (only && refused.length === 1)
    return `SpiderIPPool "${only.name}" (${req.source}, ${nics}, IPv${family}) cannot serve the pod: ${only.why}`;
  return `no SpiderIPPool named in ${req.source} can serve ${nics} IPv${family} of the pod: ${refused.map((r) => `"${r.name}": ${r.why}`).join('; ')}`;
}

/**
 * The pod's top controller (docs/pool-selection.md#top-controller) as far as admission can tell without reading owners:
 * a Deployment names its ReplicaSets `<deployment>-<pod-template-hash>` and labels their pods with the hash. Only
 * auto-created pools compare it, and only when a pod names one explicitly.
 */
function topController(pod: V1Pod): TopController {
  const namespace = pod.metadata?.namespace ?? '';
  const owner = pod.metadata?.ownerReferences?.find((ref) => ref.controller);
  if (!owner)
    return { kind: 'Pod', name: pod.metadata?.name ?? '', namespace, uid: pod.metadata?.uid ?? '', apiVersion: 'v1' };
  const hash = pod.metadata?.labels?.['pod-template-hash'];
  if (owner.kind === 'ReplicaSet' && owner.apiVersion === 'apps/v1' && hash && owner.name.endsWith(`-${hash}`)) {
    return {
      kind: 'Deployment',
      name: owner.name.slice(0, -hash.length - 1),
      namespace,
      uid: '',
      apiVersion: 'apps/v1',
    };
  }
  return { kind: owner.kind, name: owner.name, namespace, uid: owner.uid, apiVersion: owner.apiVersion };
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
