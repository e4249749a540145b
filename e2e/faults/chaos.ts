// The chaos run shared by `npm run bench:chaos` and e2e/chaos.test.ts. Pods churn through the kubelet
// stand-in (real network namespaces, the real macvlan + spiderpool plugin chain) on simulated nodes whose
// agents reach the apiserver through the fault proxy, which fails a share of their requests. Meanwhile
// agents are SIGKILLed mid-burst and restarted, kube-apiserver and etcd are restarted, and the operator
// leader is SIGKILLed while its garbage collector scans every 2 s. Invariants are sampled throughout and
// checked once more after the collector has run on the quiet cluster.
import { appendFileSync, cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { INSTALL_NAMESPACE, CONTROLLER_NAME } from '../../api/v2beta1/constants.ts';
import { formatIP, parseIP } from '../../lib/ip/index.ts';
import { isNotFound } from '../../lib/kube.ts';
import { POOLS } from '../../lib/spiderpool-client.ts';
import { restartComponent, type ControlPlane } from '../cluster/control-plane.ts';
import { startControllers, type Controllers } from '../harness/controllers.ts';
import { checkInvariants, describeViolations, type Violation } from '../harness/invariants.ts';
import { startNodeSide, type NodeSide } from '../harness/nodes.ts';
import { eventually, inBatches } from '../harness/wait.ts';
import { startFaultProxy, type FaultProxy, type FaultRule } from './proxy.ts';

export interface ChaosOptions {
  /** Pods created (and most of them deleted again) per round. */
  pods: number;
  nodes: number;
  /** Keep running rounds until this much time has passed (a soak); one round when 0. */
  soakMs: number;
  /** Share of agent requests the proxy fails. */
  faultRate: number;
  log: (message: string) => void;
}

export interface ChaosReport {
  rounds: number;
  podsCreated: number;
  podsDeleted: number;
  podsRunningAtEnd: number;
  /** Requests the agents made through the proxy, and the faults it injected among them, by kind. */
  agentRequests: number;
  faultsInjected: Record<string, number>;
  agentRestarts: number;
  apiserverRestarts: number;
  etcdRestarts: number;
  leaderKills: number;
  /** Failed ADDs the kubelet stand-in retried (the pod's sandbox set-up failed and was tried again). */
  addsRetried: number;
  gcScansAfterChurn: number;
  samples: number;
  duplicates: number;
  leaked: number;
  violations: Violation[];
  seconds: number;
}

const NS = 'chaos';
const POOL = 'chaos-v4';
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const DUPLICATE: Violation['invariant'][] = [
  'address-in-two-pools',
  'address-in-two-endpoints',
  'address-of-two-running-pods',
];
const LEAK: Violation['invariant'][] = ['record-without-live-owner', 'endpoint-without-live-owner'];

/** Roughly `rate` of all requests fail, spread over every kind of fault an apiserver or network causes. */
function faultRules(rate: number): FaultRule[] {
  const kinds: FaultRule['fault'][] = [
    { kind: 'status', code: 429 },
    { kind: 'status', code: 500 },
    { kind: 'status', code: 503 },
    { kind: 'reset' },
    { kind: 'drop-response' },
    { kind: 'delay-response', ms: 1500 },
  ];
  return kinds.map((fault) => ({
    name: fault.kind === 'status' ? `status-${fault.code}` : fault.kind,
    probability: rate / kinds.length,
    fault,
  }));
}

async function gcScans(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
  return Number(/^spiderpool_ip_gc_full_scan_counts_total (\S+)$/m.exec(text)?.[1] ?? 0);
}

export async function runChaos(cp: ControlPlane, kubeConfig: KubeConfig, options: ChaosOptions): Promise<ChaosReport> {
  const started = Date.now();
  const log = (m: string) => options.log(`+${Math.round((Date.now() - started) / 1000)} s: ${m}`);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const leases = kubeConfig.makeApiClient(CoordinationV1Api);
  const nodeNames = Array.from({ length: options.nodes }, (_, i) => `chaos-node-${i + 1}`);
  const report: ChaosReport = {
    rounds: 0,
    podsCreated: 0,
    podsDeleted: 0,
    podsRunningAtEnd: 0,
    agentRequests: 0,
    faultsInjected: {},
    agentRestarts: 0,
    apiserverRestarts: 0,
    etcdRestarts: 0,
    leaderKills: 0,
    addsRetried: 0,
    gcScansAfterChurn: 0,
    samples: 0,
    duplicates: 0,
    leaked: 0,
    violations: [],
    seconds: 0,
  };

  await core.createNamespace({ body: { metadata: { name: NS } } });
  // Without the controller-manager nobody creates the default service account.
  await core.createNamespacedServiceAccount({
    namespace: NS,
    body: { metadata: { name: 'default' }, automountServiceAccountToken: false },
  });
  // Room for every pod of a round and no more: freed addresses are soon handed out again, where a duplicate
  // would show.
  const first = parseIP('10.230.0.10').value;
  await custom.createClusterCustomObject({
    ...POOLS,
    body: {
      apiVersion: 'spiderpool.spidernet.io/v2beta1',
      kind: 'SpiderIPPool',
      metadata: { name: POOL },
      spec: { subnet: '10.230.0.0/16', ips: [`10.230.0.10-${formatIP(first + BigInt(options.pods - 1), 4)}`] },
    },
  });

  // CHAOS_KEEP_LOGS=<dir>: the agents', operators' (at info) and kubelet stand-in's logs are copied there at the
  // end. CHAOS_SAMPLE_MS: the pause between invariant samples (3000); a short one catches brief windows. Each
  // violation is logged when first seen, with the sample or the final check that saw it.
  const keep = process.env.CHAOS_KEEP_LOGS;
  if (keep) mkdirSync(keep, { recursive: true });
  let proxy: FaultProxy | undefined;
  let controllers: Controllers | undefined;
  let nodes: NodeSide | undefined;
  const seen = new Map<string, Violation>();
  const note = (violations: Violation[], when: string) => {
    for (const v of violations) {
      const id = `${v.invariant} ${v.ip ?? v.pool ?? ''} ${v.holders.join(';')}`;
      if (!seen.has(id)) log(`${when}: ${describeViolations([v])}`);
      seen.set(id, v);
    }
  };
  try {
    proxy = await startFaultProxy({ kubeconfig: cp.kubeconfig });
    controllers = await startControllers({
      kubeConfig,
      kubeconfigPath: cp.kubeconfig,
      env: {
        LOG_LEVEL: keep ? 'info' : 'warn',
        SPIDERPOOL_GC_DEFAULT_INTERVAL_DURATION: '2',
        SPIDERPOOL_LEADER_DURATION: '6',
        SPIDERPOOL_LEADER_RENEW_DEADLINE: '4',
        SPIDERPOOL_LEADER_RETRY_PERIOD: '1',
      },
    });
    const retried = (message: string) => {
      if (keep) appendFileSync(join(keep, 'kubelet.log'), `${new Date().toISOString()} ${message}\n`);
      if (/sync failed.*error adding container/.test(message)) report.addsRetried++;
    };
    nodes = await startNodeSide({ kubeConfig, kubeconfigPath: proxy.kubeconfig, nodes: nodeNames, log: retried });
    const requestsBeforeFaults = proxy.stats().requests;
    for (const rule of faultRules(options.faultRate)) proxy.addRule(rule);

    const leader = async () => {
      const holder = (
        await leases.readNamespacedLease({ name: CONTROLLER_NAME, namespace: INSTALL_NAMESPACE }).catch(() => undefined)
      )?.spec?.holderIdentity;
      return controllers?.operators.find((o) => holder === `spiderpool-controller-${o.name.split('-')[1]}`);
    };
    const pods = async () => (await core.listNamespacedPod({ namespace: NS })).items;

    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const violations = await checkInvariants(kubeConfig, { pools: [POOL], namespaces: [NS] }).catch(() => []);
        note(violations, `sample ${report.samples}`);
        report.samples++;
        await sleep(Number(process.env.CHAOS_SAMPLE_MS ?? 3000));
      }
    })();

    let serial = 0;
    const createBurst = (count: number) =>
      inBatches(
        Array.from({ length: count }, () => serial++),
        25,
        async (i) => {
          const name = `chaos-${i}`;
          const node = nodeNames[i % nodeNames.length] as string;
          for (;;) {
            try {
              await core.createNamespacedPod({
                namespace: NS,
                body: {
                  metadata: { name, annotations: { 'ipam.spidernet.io/ippool': JSON.stringify({ ipv4: [POOL] }) } },
                  spec: {
                    nodeName: node,
                    terminationGracePeriodSeconds: 1,
                    containers: [{ name: 'c', image: 'pause' }],
                  },
                },
              });
              report.podsCreated++;
              return;
            } catch (err) {
              // The apiserver is restarting: a create is retried; one that went through is a 409.
              if ((err as { code?: number }).code === 409) return;
              await sleep(500);
            }
          }
        },
      );
    const deleteSome = async (share: number) => {
      const live = (await pods().catch(() => [] as V1Pod[])).filter((p) => !p.metadata?.deletionTimestamp);
      const victims = live.filter(() => Math.random() < share);
      await inBatches(victims, 25, async (p) => {
        const force = Math.random() < 0.3;
        await core
          .deleteNamespacedPod({ namespace: NS, name: p.metadata!.name!, ...(force ? { gracePeriodSeconds: 0 } : {}) })
          .then(
            () => report.podsDeleted++,
            (err: unknown) => {
              if (!isNotFound(err)) log(`delete ${p.metadata?.name}: ${(err as Error).message}`);
            },
          );
      });
    };
    const killAgentMidBurst = async (burst: Promise<unknown>) => {
      await sleep(1500);
      const node = nodeNames[report.agentRestarts % nodeNames.length] as string;
      log(`SIGKILL the agent of ${node} mid-burst`);
      await nodes!.agents.restart(node, 'SIGKILL');
      report.agentRestarts++;
      await burst;
    };

    /** Pods created while the component is down for 2 s and comes back. */
    const burstDuringRestart = async (component: 'kube-apiserver' | 'etcd', count: number) => {
      const burst = createBurst(count);
      log(`restarting ${component}`);
      await restartComponent(cp, component, { downMs: 2000 });
      await burst;
    };

    const round = async () => {
      const step = Math.max(5, Math.floor(options.pods / 5));
      await killAgentMidBurst(createBurst(step));
      await deleteSome(0.4);
      await burstDuringRestart('kube-apiserver', step);
      report.apiserverRestarts++;
      await killAgentMidBurst(createBurst(step));
      await deleteSome(0.5);
      await burstDuringRestart('etcd', step);
      report.etcdRestarts++;
      // A mass deletion gives the collector work; the leader dies in the scan that follows it.
      await deleteSome(0.6);
      const current = await leader();
      if (current) {
        const port = current.port;
        const before = await gcScans(port).catch(() => 0);
        await eventually('a GC scan to start', 20_000, async () =>
          (await gcScans(port).catch(() => before)) > before ? true : undefined,
        );
        // Scans start every 2 s: this is just after the next one began.
        await sleep(2050);
        log(`SIGKILL the operator leader ${current.name} during a GC scan`);
        await controllers!.restartOperator(current.name, 'SIGKILL');
        report.leaderKills++;
      }
      await createBurst(options.pods - 4 * step);
      report.rounds++;
    };
    do await round();
    while (Date.now() - started < options.soakMs);

    proxy.clearRules();
    const stats = proxy.stats();
    report.agentRequests = stats.requests - requestsBeforeFaults;
    report.faultsInjected = stats.injected;
    log('churn over: waiting for every pod to run and the collector to scan twice');
    await eventually('no chaos pod terminating and every other running', 180_000, async () => {
      const all = await pods().catch(() => undefined);
      return all && all.every((p) => !p.metadata?.deletionTimestamp && p.status?.phase === 'Running') ? all : undefined;
    });
    sampling = false;
    await sampler;
    const gcLeader = await eventually('a leader', 30_000, leader);
    const scans = await gcScans(gcLeader.port);
    await eventually('two full GC scans', 60_000, async () =>
      (await gcScans(gcLeader.port).catch(() => scans)) >= scans + 2 ? true : undefined,
    );
    report.gcScansAfterChurn = (await gcScans(gcLeader.port)) - scans;
    note(await checkInvariants(kubeConfig, { pools: [POOL], namespaces: [NS], afterGc: true }), 'after GC');
    report.podsRunningAtEnd = (await pods()).length;
  } finally {
    if (keep) {
      if (nodes) cpSync(nodes.agents.dir, join(keep, 'agents'), { recursive: true });
      if (controllers) cpSync(controllers.dir, join(keep, 'controllers'), { recursive: true });
    }
    await nodes?.stop();
    await controllers?.stop();
    await proxy?.close();
  }
  report.violations = [...seen.values()];
  report.duplicates = report.violations.filter((v) => DUPLICATE.includes(v.invariant)).length;
  report.leaked = report.violations.filter((v) => LEAK.includes(v.invariant)).length;
  report.seconds = Math.round((Date.now() - started) / 1000);
  return report;
}
