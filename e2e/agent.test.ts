// Agents on four simulated nodes against the real apiserver: many concurrent ADDs against one pool,
// then all DELs, and the errors a user sees when a pod cannot get an address.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { CoreV1Api, CustomObjectsApi, type V1Pod } from '@kubernetes/client-node';
import type { SpiderEndpoint } from '../api/v2beta1/types.ts';
import { GROUP, VERSION } from '../api/v2beta1/constants.ts';
import type { AgentError, IpamAddResponse } from '../lib/agent-api.ts';
import { parseRecords } from '../ipam/records.ts';
import { callAgent, startAgents, type Agents } from './harness/agents.ts';
import { testCluster, type TestCluster } from './harness/cluster.ts';
import { registerNode } from './kubelet/node.ts';
import { inBatches } from './harness/wait.ts';
import { SpiderpoolClient } from '../lib/spiderpool-client.ts';

const NAMESPACE = 'agent-test';

/**
 * POSTs a body as it is, not re-encoded, and returns the status. It asks first (Expect: 100-continue), as curl
 * does for large bodies: the agent refuses a declared length over its limit before the body is sent.
 */
function rawPost(socketPath: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    let answer = '';
    socket.on('data', (d) => {
      answer += d.toString();
      if (answer.startsWith('HTTP/1.1 100 ') && answer.endsWith('\r\n\r\n')) {
        answer = '';
        socket.end(body);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => {
      const status = /^HTTP\/1\.1 (\d{3}) /.exec(answer)?.[1];
      if (status) resolve(Number(status));
      else reject(new Error(`no answer: ${JSON.stringify(answer.slice(0, 200))}`));
    });
    socket.write(
      `POST /v1/ipam/ip HTTP/1.1\r\nHost: agent\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`,
    );
  });
}

const NODES = ['agent-node-1', 'agent-node-2', 'agent-node-3', 'agent-node-4'];

describe('agent IPAM on the real apiserver', function () {
  this.timeout(300_000);
  let c: TestCluster;
  let agents: Agents;
  let core: CoreV1Api;
  let custom: CustomObjectsApi;

  const createPool = (name: string, spec: Record<string, unknown>) =>
    custom.createClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: 'spiderippools',
      body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'SpiderIPPool', metadata: { name }, spec },
    });
  let spiderpool: SpiderpoolClient;
  const readPool = (name: string) => spiderpool.read(name);
  const createPod = (name: string, node: string, annotations: Record<string, string>) =>
    core.createNamespacedPod({
      namespace: NAMESPACE,
      body: { metadata: { name, annotations }, spec: { nodeName: node, containers: [{ name: 'c', image: 'nginx' }] } },
    });
  const add = (agentIndex: number, pod: V1Pod, ifName = 'eth0') =>
    callAgent(agents.agents[agentIndex]!.socket, 'POST', '/v1/ipam/ip', {
      containerID: `ctr-${pod.metadata?.uid}`,
      ifName,
      netNamespace: `/var/run/netns/${pod.metadata?.name}`,
      podNamespace: NAMESPACE,
      podName: pod.metadata?.name,
      podUID: pod.metadata?.uid,
    });
  const del = (agentIndex: number, pod: V1Pod) =>
    callAgent(agents.agents[agentIndex]!.socket, 'DELETE', '/v1/ipam/ip', {
      containerID: `ctr-${pod.metadata?.uid}`,
      ifName: 'eth0',
      podNamespace: NAMESPACE,
      podName: pod.metadata?.name,
      podUID: pod.metadata?.uid,
    });

  before(async () => {
    c = await testCluster();
    core = c.kubeConfig.makeApiClient(CoreV1Api);
    custom = c.kubeConfig.makeApiClient(CustomObjectsApi);
    spiderpool = new SpiderpoolClient(c.kubeConfig);
    for (const n of NODES) await registerNode(c.kubeConfig, n);
    await core.createNamespace({ body: { metadata: { name: NAMESPACE } } });
    agents = await startAgents(c.cp.kubeconfig, NODES);
  });

  after(async () => {
    await agents?.stop();
    await c?.kubectl(['delete', 'namespace', NAMESPACE, '--wait=false']);
    await c?.kubectl(['delete', 'sp', 'concurrency', 'only-worker9', 'switched-off', 'tiny', '--ignore-not-found']);
    // No kubelet serves these nodes: left behind, the scheduler would place other tests' pods on them.
    await c?.kubectl(['delete', 'node', ...NODES, '--ignore-not-found']);
  });

  it('240 concurrent ADDs from 4 agents on one pool: unique addresses, exact counts; all DELs leave nothing behind', async () => {
    const PODS = 240;
    await createPool('concurrency', { subnet: '10.77.0.0/16', ips: ['10.77.0.10-10.77.1.200'], gateway: '10.77.0.1' });
    const pods = await inBatches(
      Array.from({ length: PODS }, (_, i) => i),
      30,
      (i) =>
        createPod(`conc-${i}`, NODES[i % NODES.length]!, { 'ipam.spidernet.io/ippool': '{"ipv4":["concurrency"]}' }),
    );

    const started = Date.now();
    const answers = await Promise.all(pods.map((pod, i) => add(i % NODES.length, pod)));
    const seconds = (Date.now() - started) / 1000;
    const failures = answers.filter((a) => a.status !== 200);
    assert.deepEqual(failures, [], 'every ADD succeeds');
    const ips = answers.map((a) => (a.body as IpamAddResponse).ips[0]?.address);
    assert.equal(new Set(ips).size, PODS, 'no address is handed out twice');
    assert.ok(ips.every((ip) => ip?.startsWith('10.77.') && ip.endsWith('/16')));

    const pool = await readPool('concurrency');
    const records = parseRecords(pool);
    assert.equal(pool.status?.allocatedIPCount, PODS);
    assert.equal(records.size, PODS);
    for (const [i, pod] of pods.entries()) {
      const ip = ips[i]!.split('/')[0]!;
      assert.deepEqual(records.get(ip), {
        pod: `${NAMESPACE}/${pod.metadata?.name}`,
        podUid: pod.metadata?.uid,
        nic: 'eth0',
      });
    }
    const endpoints = (await custom.listNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: 'spiderendpoints',
      namespace: NAMESPACE,
    })) as { items: SpiderEndpoint[] };
    assert.equal(endpoints.items.length, PODS);

    const repeat = await add(0, pods[0]!);
    assert.equal((repeat.body as IpamAddResponse).ips[0]?.address, ips[0], 'a repeated ADD returns the same address');

    await inBatches(pods, 60, (pod) =>
      core.deleteNamespacedPod({ namespace: NAMESPACE, name: pod.metadata!.name!, gracePeriodSeconds: 0 }),
    );
    const released = await Promise.all(pods.map((pod, i) => del(i % NODES.length, pod)));
    assert.deepEqual(
      released.filter((r) => r.status !== 200),
      [],
    );
    const again = await Promise.all(pods.slice(0, 10).map((pod, i) => del(i % NODES.length, pod)));
    assert.ok(
      again.every((r) => r.status === 200),
      'DEL is idempotent',
    );

    const after = await readPool('concurrency');
    assert.equal(after.status?.allocatedIPCount, 0);
    assert.equal(parseRecords(after).size, 0, 'no leaked records');
    const left = (await custom.listNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: 'spiderendpoints',
      namespace: NAMESPACE,
    })) as { items: SpiderEndpoint[] };
    assert.equal(left.items.length, 0, 'no leaked SpiderEndpoints');
    console.log(`      ${PODS} allocations from ${NODES.length} agents in ${seconds.toFixed(2)} s`);
  });

  it('no usable pool: the error names every candidate pool and why it was filtered out', async () => {
    await createPool('only-worker9', { subnet: '10.78.0.0/24', ips: ['10.78.0.10-10.78.0.20'], nodeName: ['worker9'] });
    await createPool('switched-off', { subnet: '10.79.0.0/24', ips: ['10.79.0.10-10.79.0.20'], disable: true });
    const pod = await createPod('nopool', NODES[0]!, {
      'ipam.spidernet.io/ippool': '{"ipv4":["only-worker9","switched-off"]}',
    });
    const r = await add(0, pod);
    assert.equal(r.status, 422);
    const error = r.body as AgentError;
    assert.equal(error.reason, 'NoAvailablePool');
    assert.match(error.message, /only-worker9/);
    assert.match(error.message, /worker9/);
    assert.match(error.message, /switched-off/);
    assert.match(error.message, /disabled/);
  });

  it('exhausted pool: the error says so and names the pool', async () => {
    await createPool('tiny', { subnet: '10.80.0.0/24', ips: ['10.80.0.10'] });
    const first = await createPod('tiny-1', NODES[1]!, { 'ipam.spidernet.io/ippool': '{"ipv4":["tiny"]}' });
    const second = await createPod('tiny-2', NODES[1]!, { 'ipam.spidernet.io/ippool': '{"ipv4":["tiny"]}' });
    assert.equal((await add(1, first)).status, 200);
    const r = await add(1, second);
    assert.equal(r.status, 422);
    assert.equal((r.body as AgentError).reason, 'IPUsedOut');
    assert.match((r.body as AgentError).message, /IPPool tiny: all IP addresses used out/);
  });

  it('malformed annotation: the error names the annotation and the problem, and nothing is taken', async () => {
    const pod = await createPod('badjson', NODES[2]!, { 'ipam.spidernet.io/ippool': '{"ipv4":"tiny"' });
    const r = await add(2, pod);
    assert.equal(r.status, 400);
    assert.equal((r.body as AgentError).reason, 'WrongInput');
    assert.match((r.body as AgentError).message, /ipam\.spidernet\.io\/ippool/);
    const endpoint = await c.kubectl(['get', 'se', '-n', NAMESPACE, 'badjson']);
    assert.notEqual(endpoint.code, 0);
  });

  it('bad request: missing fields are refused with 400 and the field names', async () => {
    const r = await callAgent(agents.agents[0]!.socket, 'POST', '/v1/ipam/ip', { ifName: 'eth0' });
    assert.equal(r.status, 400);
    assert.match((r.body as AgentError).message, /containerID/);
    assert.match((r.body as AgentError).message, /podUID/);
  });

  it('hostile wildcard: a 30-star pool pattern in one ADD delays neither a pool create nor an ordinary ADD beyond 1 s', async () => {
    await createPool('wild', { subnet: '10.81.0.0/24', ips: ['10.81.0.10-10.81.0.20'] });
    const hostile = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        createPod(`wild-${i}`, NODES[3]!, { 'ipam.spidernet.io/ippool': `{"ipv4":["${'*'.repeat(30)}x"]}` }),
      ),
    );
    const ordinary = await createPod('plain', NODES[3]!, { 'ipam.spidernet.io/ippool': '{"ipv4":["wild"]}' });
    const timed = async <T>(call: () => Promise<T>) => {
      const started = Date.now();
      const value = await call();
      return { value, ms: Date.now() - started };
    };
    const [hostileAnswers, plain, create] = await Promise.all([
      Promise.all(hostile.map((pod) => timed(() => add(3, pod)))),
      timed(() => add(3, ordinary)),
      timed(() => createPool('wild-created', { subnet: '10.82.0.0/24', ips: ['10.82.0.10'] })),
    ]);
    assert.equal(plain.value.status, 200, JSON.stringify(plain.value.body));
    assert.ok(plain.ms < 1000, `the ordinary ADD took ${plain.ms} ms`);
    assert.ok(create.ms < 1000, `the pool create took ${create.ms} ms`);
    for (const { value } of hostileAnswers) {
      assert.equal(value.status, 422, 'no pool matches the pattern');
      assert.equal((value.body as AgentError).reason, 'NoAvailablePool');
    }
    await c.kubectl(['delete', 'sp', 'wild', 'wild-created', '--ignore-not-found', '--wait=false']);
  });

  it("hostile bodies: 1000 bodies of 1 MiB get their 4xx and the agent's memory stays bounded", async () => {
    const agent = agents.agents[0]!;
    const rss = () =>
      Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${agent.process.pid}/status`, 'utf8'))![1]) * 1024;
    const mib = 1024 * 1024;
    // Exactly the limit is read and parsed (a JSON object lacking every field); one byte more is refused unread.
    const atLimit = JSON.stringify({ containerID: 'x'.repeat(mib - 20) }).padEnd(mib, ' ');
    const overLimit = `${atLimit} `;
    await inBatches(Array.from({ length: 20 }), 10, () => rawPost(agent.socket, atLimit));
    const before = rss();
    const statuses = await inBatches(
      Array.from({ length: 1000 }, (_, i) => i),
      10,
      (i) => rawPost(agent.socket, i % 2 ? atLimit : overLimit),
    );
    const after = rss();
    assert.deepEqual(new Set(statuses), new Set([400, 413]));
    assert.ok(after - before < 128 * mib, `RSS grew from ${(before / mib) | 0} MiB to ${(after / mib) | 0} MiB`);
    console.log(
      `      agent RSS ${(before / mib).toFixed(0)} MiB before, ${(after / mib).toFixed(0)} MiB after 1000 bodies`,
    );
  });
});
