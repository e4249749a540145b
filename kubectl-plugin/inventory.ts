// Everything the audit and the garbage-collection preview judge, read once: pools with their records, pods,
// SpiderEndpoints and StatefulSets, and what the controller's garbage collector (operator/gc/decide.ts) decides for
// each record and each endpoint from it, exactly as it would from its caches.
import type { V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import type { SpiderEndpoint, SpiderIPPool } from '../api/v2beta1/types.ts';
import { readRecords, type ReadRecords } from '../ipam/records.ts';
import {
  decide,
  decideEndpoint,
  splitPodKey,
  statefulSetOf,
  type Decision,
  type DecideOptions,
  type EndpointDecision,
  type Observed,
  type PoolRecord,
} from '../operator/gc/decide.ts';
import { DEFAULT_GC_OPTIONS } from '../operator/gc/options.ts';
import type { PluginCluster } from './cluster.ts';

export interface PoolRead {
  pool: SpiderIPPool;
  /** Undefined when allocatedIPs is unreadable as a whole; `error` says why. */
  read?: ReadRecords;
  error?: string;
}

export interface Inventory {
  pools: PoolRead[];
  records: PoolRecord[];
  pods: Map<string, V1Pod>;
  endpoints: SpiderEndpoint[];
  observed(podKey: string): Observed;
  decideRecord(record: PoolRecord): Decision;
  decideEndpoint(endpoint: SpiderEndpoint): EndpointDecision;
}

export const objectKey = (o: { metadata?: { namespace?: string; name?: string } }) =>
  `${o.metadata?.namespace}/${o.metadata?.name}`;

export async function readInventory(
  cluster: PluginCluster,
  graceMarginMs = DEFAULT_GC_OPTIONS.graceMarginMs,
): Promise<Inventory> {
  const [pools, podList, endpoints, sets, config] = await Promise.all([
    cluster.pools(),
    cluster.pods(),
    cluster.endpoints(),
    cluster.statefulSets(),
    cluster.productConfig(),
  ]);
  const pods = new Map(podList.map((p) => [objectKey(p), p]));
  const endpointByKey = new Map(endpoints.map((e) => [objectKey(e), e]));
  const setByKey = new Map<string, V1StatefulSet>(sets.map((s) => [objectKey(s), s]));
  const reads: PoolRead[] = pools.map((pool) => {
    try {
      return { pool, read: readRecords(pool) };
    } catch (err) {
      return { pool, error: err instanceof Error ? err.message : String(err) };
    }
  });
  const records: PoolRecord[] = reads.flatMap(({ pool, read }) =>
    [...(read?.records ?? [])].map(([ip, r]) => ({
      pool: pool.metadata.name,
      ip,
      pod: r.pod,
      podUid: r.podUid,
      ...(r.nic ? { nic: r.nic } : {}),
    })),
  );
  const options: DecideOptions = { now: Date.now(), graceMarginMs, enableStatefulSet: config.enableStatefulSet };
  const observed = (podKey: string): Observed => {
    const pod = pods.get(podKey);
    const endpoint = endpointByKey.get(podKey);
    const setName = statefulSetOf(pod, endpoint);
    const namespace = splitPodKey(podKey)?.namespace;
    const statefulSet = setName && namespace ? setByKey.get(`${namespace}/${setName}`) : undefined;
    return { pod, endpoint, statefulSet };
  };
  const referenced = new Set(records.map((r) => `${r.pod}\0${r.podUid}`));
  return {
    pools: reads,
    records,
    pods,
    endpoints,
    observed,
    decideRecord: (record) => decide(record, observed(record.pod), options),
    decideEndpoint: (endpoint) =>
      decideEndpoint(
        endpoint,
        observed(objectKey(endpoint)),
        referenced.has(`${objectKey(endpoint)}\0${endpoint.status?.current.uid}`),
        options,
      ),
  };
}
