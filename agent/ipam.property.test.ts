// A model-based property test of the allocation store: several agents (the real Ipam, Cluster and pool
// batchers) and the controller's garbage collector (the real Collector and GcClient) share one in-memory
// apiserver that enforces resourceVersions and injects conflicts, 5xx, lost answers and stalls; fast-check's
// scheduler picks the order in which every apiserver call proceeds. The model only knows which pods are
// alive and which ADDs answered with which addresses. After every run:
// - no address is held by two live pods;
// - every address of a live pod's last successful ADD is recorded for its UID;
// - after a final fault-free GC pass, no record or endpoint is left for a pod that is gone.
// PROPERTY_RUNS (default 150) and PROPERTY_SEED change the size and the seed; a failure prints the seed
// and the shrunk counterexample.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import type { SpiderIPPool } from '../api/v2beta1/types.ts';
import { KINDS } from '../api/v2beta1/kinds.ts';
import { parseRecords } from '../ipam/records.ts';
import { MemoryApiserver, type Fault } from '../ipam/testing/memory-apiserver.ts';
import { createLogger } from '../lib/log.ts';
// The property spans both processes, as a cluster does: the collector frees what the agents leave behind.
// eslint-disable-next-line no-restricted-imports
import { Collector } from '../operator/gc/collector.ts';
// eslint-disable-next-line no-restricted-imports
import { GcClient } from '../operator/gc/client.ts';
// eslint-disable-next-line no-restricted-imports
import { gcMetrics } from '../operator/gc/metrics.ts';
// eslint-disable-next-line no-restricted-imports
import { DEFAULT_GC_OPTIONS } from '../operator/gc/options.ts';
import { Cluster } from './cluster.ts';
import { Ipam } from './ipam.ts';
import { AgentMetrics } from './metrics.ts';

const RUNS = Number(process.env.PROPERTY_RUNS ?? 150);
const SEED = Number(process.env.PROPERTY_SEED ?? 20_240_611);
// PROPERTY_PATH (with the seed) replays one counterexample; PROPERTY_TRACE=1 prints its apiserver calls.
const PATH = process.env.PROPERTY_PATH;
const TRACE = !!process.env.PROPERTY_TRACE;
// An ADD may reach the agent while it still works on an earlier one of the same pod name: of the same pod (the
// plugin timed out and kubelet retried) or of a deleted pod that the name's new pod replaced.
// PROPERTY_SERIAL_ADD=1 sends the ADDs of a pod name one after the other instead.
const SERIAL_ADD = !!process.env.PROPERTY_SERIAL_ADD;
const NODES = ['node-a', 'node-b'];
const POD_NAMES = ['web-1', 'web-2', 'web-3', 'web-4'];
const NAMESPACE = 'default';

// Few addresses, so that pools run out, addresses are handed out again, and the IPv6 family fails while
// the IPv4 one succeeds.
const POOLS: [string, 4 | 6, string, string][] = [
  ['v4-a', 4, '10.6.0.0/24', '10.6.0.1-10.6.0.2'],
  ['v4-b', 4, '10.6.0.0/24', '10.6.0.3-10.6.0.4'],
  ['v6', 6, 'fd00:6::/120', 'fd00:6::1-fd00:6::3'],
];

type Action =
  | { do: 'create'; pod: number; node: number }
  | { do: 'add'; pod: number }
  | { do: 'delete'; pod: number }
  | { do: 'del'; pod: number }
  | { do: 'gc' }
  | { do: 'run'; steps: number };

const pod = fc.nat(POD_NAMES.length - 1);
const action: fc.Arbitrary<Action> = fc.oneof(
  { arbitrary: fc.record({ do: fc.constant('create' as const), pod, node: fc.nat(NODES.length - 1) }), weight: 3 },
  { arbitrary: fc.record({ do: fc.constant('add' as const), pod }), weight: 6 },
  { arbitrary: fc.record({ do: fc.constant('delete' as const), pod }), weight: 2 },
  { arbitrary: fc.record({ do: fc.constant('del' as const), pod }), weight: 2 },
  { arbitrary: fc.constant({ do: 'gc' as const }), weight: 1 },
  { arbitrary: fc.record({ do: fc.constant('run' as const), steps: fc.integer({ min: 1, max: 30 }) }), weight: 4 },
);
const fault: fc.Arbitrary<Fault> = fc.oneof(
  { arbitrary: fc.constant('none' as const), weight: 12 },
  { arbitrary: fc.constantFrom('conflict' as const, 'error' as const, 'lost' as const, 'stall' as const), weight: 4 },
);

const figures = { runs: 0, adds: 0, addsOk: 0, dels: 0, gcs: 0, calls: 0, conflict: 0, error: 0, lost: 0, stall: 0 };

const log = createLogger('property-test', 'error');
log.silent = true;
const agentMetrics = new AgentMetrics();
const collectorMetrics = gcMetrics(new Registry());
const kubeConfig = new KubeConfig();
kubeConfig.loadFromOptions({
  clusters: [{ name: 'memory', server: 'http://127.0.0.1:1' }],
  users: [{ name: 'memory' }],
  contexts: [{ name: 'memory', cluster: 'memory', user: 'memory' }],
  currentContext: 'memory',
});

/** The real clients, with their HTTP APIs and watch caches replaced by the in-memory apiserver. */
function agent(api: MemoryApiserver, node: string): Ipam {
  const cluster = new Cluster(kubeConfig, node, log);
  const cache = (plural: string) => ({ store: api.cache(plural) });
  Object.assign(cluster, {
    json: api.json,
    poolJson: api.json,
    poolCache: cache(KINDS.SpiderIPPool.plural),
    reservedCache: cache(KINDS.SpiderReservedIP.plural),
    podCache: cache('pods'),
    namespaceCache: cache('namespaces'),
  });
  const config = { nodeName: node, installNamespace: 'spiderpool', enableIPv4: true, enableIPv6: true };
  return new Ipam(cluster, { ...config, enableStatefulSet: true }, agentMetrics, log);
}

function collector(api: MemoryApiserver): Collector {
  const client = Object.assign(new GcClient(kubeConfig), {
    json: api.json,
    poolJson: api.json,
  });
  const caches = { of: (kind: { plural: string }) => api.cache(kind.plural) } as never;
  return new Collector({ caches, client, options: { ...DEFAULT_GC_OPTIONS }, metrics: collectorMetrics, log });
}

function cluster(): MemoryApiserver {
  const api = new MemoryApiserver();
  for (const [name, ipVersion, subnet, ips] of POOLS) {
    const pool: SpiderIPPool = {
      apiVersion: KINDS.SpiderIPPool.apiVersion,
      kind: KINDS.SpiderIPPool.kind,
      metadata: { name },
      spec: { ipVersion, subnet, ips: [ips] },
    };
    api.addPool(pool);
  }
  api.namespaces.set(NAMESPACE, { metadata: { name: NAMESPACE } });
  for (const node of NODES) api.nodes.set(node, { metadata: { name: node, labels: {} } });
  return api;
}

/** One pod object: a pod name may be re-created with a new UID once the previous one is gone. */
interface Incarnation {
  name: string;
  uid: string;
  node: number;
  alive: boolean;
  /** An ADD of this pod ran after the pod was deleted (outlived it). */
  outlived?: boolean;
  /** The addresses of this pod's last ADD that succeeded. */
  held?: string[];
}

/** A deterministic Math.random for the retry jitter, so that a seed replays the same run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The retry back-offs' timers, fired in due order only when no apiserver call can move, so that a run does
 * not wait in real time and the same seed replays the same run.
 */
class Backoffs {
  private queue: { due: number; id: number; fire: () => void }[] = [];
  private now = 0;
  private ids = 0;
  private readonly real = { setTimeout: globalThis.setTimeout, clearTimeout: globalThis.clearTimeout };

  install(): void {
    globalThis.setTimeout = ((fire: () => void, ms = 0) => {
      const id = ++this.ids;
      this.queue.push({ due: this.now + ms, id, fire });
      return id;
    }) as unknown as typeof setTimeout;
    globalThis.clearTimeout = ((id: number) => {
      this.queue = this.queue.filter((t) => t.id !== id);
    }) as unknown as typeof clearTimeout;
  }

  uninstall(): void {
    Object.assign(globalThis, this.real);
  }

  fireNext(): boolean {
    this.queue.sort((a, b) => a.due - b.due || a.id - b.id);
    const next = this.queue.shift();
    if (!next) return false;
    this.now = next.due;
    next.fire();
    return true;
  }
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Lets the system make one step: the scheduler releases one waiting apiserver call, or, when every call
 * has been answered, the retry back-offs fire at once. False when nothing at all can move.
 */
async function step(s: fc.Scheduler, timers: Backoffs): Promise<boolean> {
  await flush();
  while (s.count() === 0) {
    if (!timers.fireNext()) return false;
    await flush();
    everyStep?.();
  }
  await s.waitNext(1);
  everyStep?.();
  return true;
}

/** Checked after every step of a run: what must hold at every instant, not only at the end. */
let everyStep: (() => void) | undefined;

/**
 * No address is listed by two SpiderEndpoints at any instant, counting those being deleted: an endpoint goes before
 * its records, so an address is handed out again only once no endpoint lists it. The one exception is an ADD that
 * outlives its pod: the collector may free its records (no pod, no endpoint yet) before it writes the endpoint. That
 * ADD deletes its endpoint before it answers, and the collector re-checks after freeing, but a fault can leave it to
 * the collector's next pass; the end of the run checks that no endpoint of a pod that is gone remains.
 */
function noAddressInTwoEndpoints(api: MemoryApiserver, outlived: (name: string, uid: string) => boolean): void {
  const listed = new Map<string, string>();
  for (const e of api.endpoints.values()) {
    const uid = e.status?.current.uid ?? '';
    if (outlived(e.metadata.name, uid)) continue;
    for (const nic of e.status?.current.ips ?? [])
      for (const address of [nic.ipv4, nic.ipv6]) {
        if (!address) continue;
        const ip = address.split('/')[0] as string;
        const holder = `${e.metadata.name} (${uid})`;
        const other = listed.get(ip);
        assert.ok(!other, `${ip} is listed by two SpiderEndpoints: ${other} and ${holder}`);
        listed.set(ip, holder);
      }
  }
}

async function settle(s: fc.Scheduler, timers: Backoffs, work: Promise<unknown>[]): Promise<void> {
  let done = 0;
  for (const w of work) void w.finally(() => done++).catch(() => undefined);
  while (done < work.length) {
    if (!(await step(s, timers)) && (await flush(), done < work.length))
      throw new Error(`${work.length - done} operations never finished`);
  }
}

async function run(s: fc.Scheduler, actions: Action[], faults: Fault[], jitter: number): Promise<void> {
  const api = cluster();
  const agents = NODES.map((node) => agent(api, node));
  const gc = collector(api);
  const incarnations: Incarnation[] = [];
  const current = new Map<string, Incarnation>();
  /** Pod names with an ADD in flight. */
  const adding = new Set<string>();
  everyStep = () =>
    noAddressInTwoEndpoints(api, (_name, uid) => incarnations.some((i) => i.uid === uid && !i.alive && i.outlived));
  let faulting = true;
  let next = 0;
  api.gate = {
    fault: (call, write) => {
      figures.calls++;
      const f = faulting ? (faults[next++] ?? 'none') : 'none';
      const effective = write ? f : f === 'lost' ? 'error' : f === 'conflict' ? 'none' : f;
      if (effective !== 'none') figures[effective]++;
      if (TRACE) console.log(`      ${call}${effective === 'none' ? '' : ` [${effective}]`}`);
      return effective;
    },
    pass: (call) => s.schedule(Promise.resolve(), call),
  };

  const work: Promise<unknown>[] = [];
  const random = Math.random;
  Math.random = seeded(jitter);
  const timers = new Backoffs();
  timers.install();
  try {
    for (const a of actions) {
      const name = a.do === 'gc' || a.do === 'run' ? '' : (POD_NAMES[a.pod] as string);
      const p = current.get(name);
      if (a.do === 'create' && !p?.alive) {
        const uid = `${name}-uid-${incarnations.length}`;
        const created: Incarnation = { name, uid, node: a.node, alive: true };
        incarnations.push(created);
        current.set(name, created);
        const object: V1Pod = {
          metadata: { name, namespace: NAMESPACE, uid, annotations: {}, labels: { app: 'web' } },
          spec: { nodeName: NODES[a.node], containers: [] },
          status: { phase: 'Running' },
        };
        api.pods.set(`${NAMESPACE}/${name}`, object);
      } else if (a.do === 'delete' && p?.alive) {
        p.alive = false;
        if (adding.has(name)) p.outlived = true;
        api.pods.delete(`${NAMESPACE}/${name}`);
      } else if (a.do === 'add' && p && !(SERIAL_ADD && adding.has(name))) {
        figures.adds++;
        if (!p.alive) p.outlived = true;
        adding.add(name);
        const add = agents[p.node]!.allocate({
          containerID: `c-${p.uid}`,
          ifName: 'eth0',
          netNamespace: `/var/run/netns/${p.uid}`,
          podNamespace: NAMESPACE,
          podName: name,
          podUID: p.uid,
          defaultIPv4IPPool: ['v4-a', 'v4-b'],
          defaultIPv6IPPool: ['v6'],
        });
        work.push(
          add
            .then(
              (answer) => {
                figures.addsOk++;
                p.held = answer.ips.map((ip) => ip.address.split('/')[0] as string);
                if (TRACE) console.log(`      ADD ${p.uid} -> ${p.held.join(' ')}`);
              },
              (err: Error) => TRACE && console.log(`      ADD ${p.uid} failed: ${err.message}`),
            )
            .finally(() => adding.delete(name)),
        );
      } else if (a.do === 'del' && p) {
        figures.dels++;
        const del = agents[p.node]!.release({
          containerID: `c-${p.uid}`,
          ifName: 'eth0',
          podNamespace: NAMESPACE,
          podName: name,
          podUID: p.uid,
        });
        work.push(del.catch(() => undefined));
      } else if (a.do === 'gc') {
        figures.gcs++;
        work.push(gc.scan().catch(() => undefined));
      } else if (a.do === 'run') {
        for (let i = 0; i < a.steps && (await step(s, timers)); i++);
      }
    }
    await settle(s, timers, work);
    // The collector's next pass, with the apiserver healthy again, frees what the run left behind.
    faulting = false;
    for (let pass = 0; pass < 2; pass++) await settle(s, timers, [gc.scan()]);
  } finally {
    everyStep = undefined;
    timers.uninstall();
    Math.random = random;
  }

  const records = [...api.pools.values()].flatMap((pool) =>
    [...parseRecords(pool)].map(([ip, r]) => ({ pool: pool.metadata.name, ip, ...r })),
  );
  const live = incarnations.filter((i) => i.alive);
  const owners = new Map<string, string>();
  for (const p of live) {
    for (const ip of p.held ?? []) {
      const other = owners.get(ip);
      assert.ok(!other, `${ip} is held by two live pods: ${other} and ${p.uid}`);
      owners.set(ip, p.uid);
      const record = records.find((r) => r.ip === ip);
      assert.equal(record?.podUid, p.uid, `${ip}, held by live pod ${p.uid}, is recorded for ${record?.podUid}`);
    }
  }
  const liveUids = new Set(live.map((p) => p.uid));
  for (const r of records) assert.ok(liveUids.has(r.podUid), `${r.pool} ${r.ip} is still recorded for ${r.podUid}`);
  for (const [key, e] of api.endpoints)
    assert.ok(liveUids.has(e.status?.current.uid ?? ''), `endpoint ${key} of ${e.status?.current.uid} remains`);
}

describe('allocation store (model-based)', () => {
  it('never gives an address two owners and never loses a live pod’s address', async function () {
    this.timeout(0);
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.array(action, { minLength: 1, maxLength: 60, size: 'medium' }),
        fc.array(fault, { maxLength: 80, size: 'medium' }),
        fc.integer(),
        async (s, actions, faults, jitter) => {
          figures.runs++;
          await run(s, actions, faults, jitter);
        },
      ),
      { numRuns: RUNS, seed: SEED, ...(PATH ? { path: PATH, endOnFailure: true } : {}) },
    );
    // A run in which no ADD ever succeeds would prove nothing.
    assert.ok(figures.addsOk > figures.adds / 4, `only ${figures.addsOk} of ${figures.adds} ADDs succeeded`);
    const f = figures;
    console.log(
      `      allocation store: seed ${SEED}, ${f.runs} runs${SERIAL_ADD ? ' (serial ADDs)' : ''}, ${f.adds} ADD (${f.addsOk} ok), ${f.dels} DEL, ` +
        `${f.gcs} GC passes, ${f.calls} apiserver calls, faults: ${f.conflict} conflicts, ${f.error} 5xx, ` +
        `${f.lost} lost answers, ${f.stall} stalls`,
    );
  });
});
