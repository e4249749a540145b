// Acceptance test of "never one address for two pods": the apiserver is unreachable from a node for 60 s
// (the fault proxy's blackhole: connections refused, then in a second run a partition where nothing
// answers) during a burst of 200 ADDs. Every ADD must succeed or fail with CNI code 11 (try again), and once
// the apiserver is back the same agent, never restarted, must allocate normally: the retried ADDs succeed
// with unique addresses, each recorded once under its pod's UID, with no record left over.
import assert from 'node:assert/strict';
import { CoreV1Api, CustomObjectsApi, type V1Pod } from '@kubernetes/client-node';
import type { SpiderIPPool } from '../api/v2beta1/types.ts';
import { parseRecords } from '../ipam/records.ts';
import { POOLS } from '../lib/spiderpool-client.ts';
import { cmdAdd } from '../cni/spiderpool/add.ts';
import { parseNetConf } from '../cni/spiderpool/netconf.ts';
import { CniError } from '../cni/skel/errors.ts';
import { fileLogger } from '../cni/skel/log.ts';
import { startAgents, type Agents } from './harness/agents.ts';
import { testCluster, type TestCluster } from './harness/cluster.ts';
import { checkInvariants, describeViolations } from './harness/invariants.ts';
import { inBatches } from './harness/wait.ts';
import { registerNode } from './kubelet/node.ts';
import { startFaultProxy, type BlackholeMode, type FaultProxy } from './faults/proxy.ts';

const NS = 'apiserver-outage';
const NODE = 'outage-node';
const POOL = 'outage-v4';
const BURST = 200;
const OUTAGE_MS = 60_000;

type Outcome = { ok: true; address: string } | { ok: false; code: number; message: string };

describe('apiserver unreachable for 60 s during a burst of ADDs (acceptance)', function () {
  this.timeout(300_000);
  let c: TestCluster;
  let proxy: FaultProxy;
  let agents: Agents;
  let core: CoreV1Api;
  let custom: CustomObjectsApi;

  before(async function () {
    this.timeout(300_000);
    c = await testCluster();
    core = c.kubeConfig.makeApiClient(CoreV1Api);
    custom = c.kubeConfig.makeApiClient(CustomObjectsApi);
    await registerNode(c.kubeConfig, NODE);
    await core.createNamespace({ body: { metadata: { name: NS } } });
    await custom.createClusterCustomObject({
      ...POOLS,
      body: {
        apiVersion: 'spiderpool.spidernet.io/v2beta1',
        kind: 'SpiderIPPool',
        metadata: { name: POOL },
        spec: { subnet: '10.231.0.0/16', ips: ['10.231.0.10-10.231.1.250'] },
      },
    });
    proxy = await startFaultProxy({ kubeconfig: c.cp.kubeconfig });
    agents = await startAgents(proxy.kubeconfig, [NODE]);
  });

  after(async () => {
    await agents?.stop();
    await proxy?.close();
    await c?.kubectl(['delete', 'namespace', NS, '--wait=false']);
    await c?.kubectl(['delete', 'sp', POOL, '--ignore-not-found', '--wait=false']);
    await c?.kubectl(['delete', 'node', NODE, '--ignore-not-found']);
  });

  /** One ADD through the plugin's own code (health check, agent call, error-to-code mapping). */
  const add = async (pod: V1Pod): Promise<Outcome> => {
    // The plugin confines its socket to /var/run/spidernet; this agent's socket lives elsewhere.
    const parsed = parseNetConf({ cniVersion: '1.0.0', name: 'outage', type: 'macvlan', ipam: { type: 'spiderpool' } });
    const conf = { ...parsed, ipam: { ...parsed.ipam, socketPath: agents.agents[0]!.socket } };
    const env = {
      command: 'ADD' as const,
      containerId: `ctr-${pod.metadata!.uid}`,
      netns: `/var/run/netns/${pod.metadata!.name}`,
      ifName: 'eth0',
      pod: { namespace: NS, name: pod.metadata!.name!, uid: pod.metadata!.uid! },
    };
    try {
      const result = await cmdAdd(env, conf, fileLogger(undefined, 'ERROR'));
      return { ok: true, address: result.ips[0]!.address };
    } catch (err) {
      return { ok: false, code: err instanceof CniError ? err.code : -1, message: (err as Error).message };
    }
  };

  for (const mode of ['refuse', 'stall'] as BlackholeMode[]) {
    it(`blackhole "${mode}": every ADD succeeds or fails with code 11; afterwards the node allocates normally`, async () => {
      const pods = await inBatches(
        Array.from({ length: BURST }, (_, i) => i),
        50,
        (i) =>
          core.createNamespacedPod({
            namespace: NS,
            body: {
              metadata: {
                name: `${mode}-${i}`,
                annotations: { 'ipam.spidernet.io/ippool': JSON.stringify({ ipv4: [POOL] }) },
              },
              spec: { nodeName: NODE, containers: [{ name: 'c', image: 'pause' }] },
            },
          }),
      );
      const agentPid = agents.agents[0]!.process.pid;

      proxy.blackhole(mode);
      const outageStarted = Date.now();
      const burst = Promise.all(pods.map(add));
      await new Promise((r) => setTimeout(r, OUTAGE_MS));
      proxy.blackhole(false);
      const during = await burst;
      const outageSeconds = (Date.now() - outageStarted) / 1000;

      const wrong = during.filter((o) => !o.ok && o.code !== 11);
      const failedCodes = during.filter((o) => !o.ok).length;
      console.log(
        `      ${mode}: ${during.length - failedCodes} ADDs succeeded, ${failedCodes} failed with code 11, ` +
          `${wrong.length} failed otherwise; the burst ended ${outageSeconds.toFixed(1)} s after the outage began`,
      );
      assert.deepEqual(
        wrong.map((o) => (o.ok ? '' : `code ${o.code}: ${o.message}`)).slice(0, 5),
        [],
        'an ADD failed with a code other than 11',
      );

      // What kubelet does with code 11: try again. The same agent must now answer every pod promptly.
      const retryStarted = Date.now();
      const after: Outcome[] = [...during];
      for (let attempt = 0; attempt < 6 && after.some((o) => !o.ok); attempt++) {
        await Promise.all(
          pods.map(async (pod, i) => {
            if (!after[i]!.ok) after[i] = await add(pod);
          }),
        );
      }
      const retrySeconds = (Date.now() - retryStarted) / 1000;
      const still = after.filter((o) => !o.ok);
      console.log(`      ${mode}: after the outage every retried ADD settled in ${retrySeconds.toFixed(1)} s`);
      assert.deepEqual(
        still.map((o) => (o.ok ? '' : `code ${o.code}: ${o.message}`)).slice(0, 5),
        [],
        'the node does not allocate after the apiserver returned',
      );
      assert.ok(retrySeconds < 30, `allocation after the outage took ${retrySeconds} s`);
      assert.equal(agents.agents[0]!.process.pid, agentPid, 'the agent was not restarted');
      assert.equal(agents.agents[0]!.process.exitCode, null, 'the agent is still running');

      const addresses = after.map((o) => (o.ok ? o.address.split('/')[0]! : ''));
      assert.equal(new Set(addresses).size, BURST, 'no address was handed out twice');
      const pool = (await custom.getClusterCustomObject({ ...POOLS, name: POOL })) as SpiderIPPool;
      const records = parseRecords(pool);
      const mine = [...records.values()].filter((r) => r.pod.startsWith(`${NS}/${mode}-`));
      assert.equal(mine.length, BURST, 'one record per pod, none left over from the failed attempts');
      for (const [i, pod] of pods.entries())
        assert.equal(records.get(addresses[i]!)?.podUid, pod.metadata!.uid, `${pod.metadata!.name} is recorded`);
      const violations = await checkInvariants(c.kubeConfig, { pools: [POOL], namespaces: [NS] });
      assert.equal(describeViolations(violations), '');
    });
  }
});
