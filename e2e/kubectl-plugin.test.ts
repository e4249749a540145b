// `kubectl spiderpool` as an administrator runs it: the built single executable against a control plane of its own
// (so that "a clean cluster" is one), with real agents and the kubelet stand-in giving pods their addresses.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { CoreV1Api, CustomObjectsApi, type V1Pod } from '@kubernetes/client-node';
import { KINDS, customResource } from '../api/v2beta1/kinds.ts';
import { parseRecords } from '../ipam/records.ts';
import { isConflict } from '../lib/kube.ts';
import { SpiderpoolClient } from '../lib/spiderpool-client.ts';
import { buildKubectlPlugin } from '../kubectl-plugin/build.ts';
import { kubectlOk } from './cluster/kubectl.ts';
import { startOwnCluster, type TestCluster } from './harness/cluster.ts';
import { startNodeSide, type NodeSide } from './harness/nodes.ts';
import { eventually } from './harness/wait.ts';

const NS = 'kubectl-plugin-e2e';
const NODES = ['kp-node1', 'kp-node2'];
const POOL = 'kp-web-v4';
const ELSEWHERE = 'kp-node2-v4';
const DISABLED = 'kp-disabled-v4';
const EXHAUSTED = 'kp-full-v4';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('kubectl spiderpool', function () {
  this.timeout(300_000);
  let c: TestCluster;
  let core: CoreV1Api;
  let custom: CustomObjectsApi;
  let spiderpool: SpiderpoolClient;
  let nodes: NodeSide | undefined;
  let plugin: string;

  const kubectlSpiderpool = (...args: string[]): Promise<Run> =>
    new Promise((resolve) => {
      execFile(
        plugin,
        args,
        { env: { PATH: process.env.PATH ?? '', KUBECONFIG: c.cp.kubeconfig } },
        (err, stdout, stderr) =>
          resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  const json = async <T>(...args: string[]): Promise<{ code: number; data: T }> => {
    const run = await kubectlSpiderpool(...args, '-o', 'json');
    assert.equal(run.stderr, '', `kubectl spiderpool ${args.join(' ')} wrote to stderr`);
    return { code: run.code, data: JSON.parse(run.stdout) as T };
  };

  const createPool = (name: string, third: number, ips: string, spec: Record<string, unknown> = {}) =>
    custom.createClusterCustomObject({
      ...customResource(KINDS.SpiderIPPool),
      body: {
        apiVersion: KINDS.SpiderIPPool.apiVersion,
        kind: KINDS.SpiderIPPool.kind,
        metadata: { name },
        spec: { subnet: `10.253.${third}.0/24`, ips: [ips], ...spec },
      },
    });
  const createPod = (name: string, pools: string[]) =>
    core.createNamespacedPod({
      namespace: NS,
      body: {
        metadata: { name, annotations: { 'ipam.spidernet.io/ippool': JSON.stringify({ ipv4: pools }) } },
        spec: { nodeName: NODES[0], terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: 'nginx' }] },
      },
    });
  const running = (name: string) =>
    eventually(`pod ${name} running`, 60_000, async () => {
      const pod = await core.readNamespacedPod({ namespace: NS, name });
      return pod.status?.phase === 'Running' && pod.status.podIP ? pod : undefined;
    });
  const gone = (name: string) =>
    eventually(`pod ${name} gone`, 60_000, async () =>
      (await spiderpool.pod(NS, name)) === undefined ? true : undefined,
    );
  const editRecords = async (name: string, edit: (r: Map<string, { pod: string; podUid: string }>) => void) => {
    for (;;) {
      const pool = await spiderpool.read(name);
      const records = parseRecords(pool);
      edit(records);
      const status = {
        ...pool.status,
        allocatedIPCount: records.size,
        allocatedIPs: records.size ? JSON.stringify(Object.fromEntries(records)) : undefined,
      };
      try {
        await spiderpool.writeStatus({ ...pool, status });
        return;
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
    }
  };

  before(async () => {
    [plugin, c] = await Promise.all([buildKubectlPlugin().then((b) => b.executable), startOwnCluster()]);
    core = c.kubeConfig.makeApiClient(CoreV1Api);
    custom = c.kubeConfig.makeApiClient(CustomObjectsApi);
    spiderpool = new SpiderpoolClient(c.kubeConfig);
    await kubectlOk(c.kubectl, ['create', 'namespace', NS]);
    await eventually('the default service account token', 60_000, async () =>
      (await core.readNamespacedServiceAccount({ namespace: NS, name: 'default' }).catch(() => undefined))?.secrets
        ?.length
        ? true
        : undefined,
    );
    await createPool(POOL, 0, '10.253.0.10-10.253.0.12');
    await createPool(ELSEWHERE, 1, '10.253.1.10-10.253.1.12', { nodeName: [NODES[1]] });
    await createPool(DISABLED, 2, '10.253.2.10-10.253.2.12', { disable: true });
    await createPool(EXHAUSTED, 3, '10.253.3.10');
    nodes = await startNodeSide({ kubeConfig: c.kubeConfig, kubeconfigPath: c.cp.kubeconfig, nodes: NODES });
  });

  after(async () => {
    await nodes?.stop();
    await c?.cp.stop();
  });

  it('check exits 0 on a clean cluster', async () => {
    await createPod('web-1', [POOL]);
    await running('web-1');
    const run = await kubectlSpiderpool('check');
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /4 pools, 1 record, 1 endpoint: no problems/);
  });

  it('why names every candidate pool, why each was refused, and the error the agent gave', async () => {
    await createPod('lost', [ELSEWHERE, DISABLED]);
    const pod = await core.readNamespacedPod({ namespace: NS, name: 'lost' });
    const failure = await eventually('the failed sandbox event', 60_000, async () => {
      const events = await core.listNamespacedEvent({
        namespace: NS,
        fieldSelector: `involvedObject.uid=${pod.metadata?.uid},reason=FailedCreatePodSandBox`,
      });
      return events.items[0]?.message;
    });

    const { code, data } = await json<{
      nics: {
        nic: string;
        families: { family: number; candidates: { pool: string; refused?: string; free: number }[] }[];
      }[];
      agent: { error?: { reason: string; message: string } };
      lastSandboxFailure?: string;
    }>('why', 'lost', '-n', NS);
    assert.equal(code, 1);
    assert.deepEqual(
      data.nics.map((n) => ({ nic: n.nic, ipv4: n.families.find((f) => f.family === 4)?.candidates })),
      [
        {
          nic: 'eth0',
          ipv4: [
            { pool: ELSEWHERE, refused: `nodeName [${NODES[1]}] does not include node ${NODES[0]}`, free: 3 },
            { pool: DISABLED, refused: 'disabled', free: 3 },
          ],
        },
      ],
    );
    assert.equal(data.agent.error?.reason, 'NoAvailablePool');
    assert.ok(
      failure.includes(data.agent.error?.message ?? '<none>'),
      `the agent's error ${JSON.stringify(failure)} does not contain ${JSON.stringify(data.agent.error?.message)}`,
    );
    assert.equal(data.lastSandboxFailure, failure);

    const table = await kubectlSpiderpool('why', 'lost', '-n', NS);
    assert.equal(table.code, 1);
    for (const expected of [ELSEWHERE, DISABLED, 'disabled', 'does not include node', 'Agent: NoAvailablePool'])
      assert.ok(table.stdout.includes(expected), `${expected} missing from:\n${table.stdout}`);
  });

  it('why shows the capacity of usable pools', async () => {
    await createPod('full-1', [EXHAUSTED]);
    await running('full-1');
    await createPod('full-2', [EXHAUSTED]);
    const run = await eventually('the failed sandbox of full-2', 60_000, async () => {
      const r = await kubectlSpiderpool('why', 'full-2', '-n', NS);
      return r.stdout.includes('Last sandbox failure') ? r : undefined;
    });
    assert.equal(run.code, 1, run.stdout);
    assert.match(run.stdout, /kp-full-v4 +yes \(try 1\) +0 +usable, but no free address/);
    assert.match(run.stdout, /Capacity: every usable pool is full for eth0 IPv4 \(IPUsedOut\)/);
    assert.match(run.stdout, /Last sandbox failure: .*IPPool kp-full-v4: all IP addresses used out/);
  });

  it('who shows the previous holder of an address that moved', async () => {
    const first = await running('web-1');
    const address = first.status?.podIP as string;
    await core.deleteNamespacedPod({ namespace: NS, name: 'web-1' });
    await gone('web-1');
    await eventually('the address freed', 30_000, async () =>
      parseRecords(await spiderpool.read(POOL)).has(address) ? undefined : true,
    );
    await createPod('web-2', [POOL]);
    const second: V1Pod = await running('web-2');
    assert.equal(second.status?.podIP, address, 'the lowest free address goes to the next pod');

    type Who = {
      pools: { pool: string; state: string; holder?: { pod: string; podUid: string } }[];
      previous?: { pod: string; podUid: string; kind: string };
      history: { kind: string; pod: string }[];
    };
    const { data } = await eventually('the release and the allocation in the history', 30_000, async () => {
      const result = await json<Who>('who', address);
      return result.data.history.length >= 3 ? result : undefined;
    });
    assert.deepEqual(data.pools, [
      {
        pool: POOL,
        subnet: '10.253.0.0/24',
        state: 'allocated',
        holder: {
          pod: `${NS}/web-2`,
          podUid: second.metadata?.uid,
          nic: 'eth0',
          podState: 'Running',
          endpoint: `${NS}/web-2`,
        },
      },
    ]);
    assert.deepEqual(
      data.history.map((h) => `${h.kind} ${h.pod}`),
      [`allocated ${NS}/web-1`, `released ${NS}/web-1`, `allocated ${NS}/web-2`],
    );
    assert.deepEqual(
      { pod: data.previous?.pod, uid: data.previous?.podUid },
      { pod: `${NS}/web-1`, uid: first.metadata?.uid },
    );
    const table = await kubectlSpiderpool('who', address);
    assert.match(table.stdout, new RegExp(`Previously held by pod ${NS}/web-1 \\(uid ${first.metadata?.uid}\\)`));
  });

  it('check reports a record corrupted by hand, and exits 1', async () => {
    const pod = await running('web-2');
    const address = pod.status?.podIP as string;
    const forged = randomUUID();
    await editRecords(POOL, (r) => r.set(address, { pod: `${NS}/web-2`, podUid: forged }));
    try {
      const run = await kubectlSpiderpool('check');
      assert.equal(run.code, 1, run.stdout);
      assert.match(
        run.stdout,
        new RegExp(
          `SpiderIPPool ${POOL} ${address} +leaked: recorded for pod ${NS}/web-2 UID ${forged}, but pod ${NS}/web-2 now has UID ${pod.metadata?.uid}`,
        ),
      );
      assert.match(
        run.stdout,
        new RegExp(
          `SpiderEndpoint ${NS}/web-2 +lists ${address} of pool ${POOL} for UID ${pod.metadata?.uid}, but the pool records it for pod ${NS}/web-2 UID ${forged}`,
        ),
      );
    } finally {
      await editRecords(POOL, (r) => r.set(address, { pod: `${NS}/web-2`, podUid: pod.metadata?.uid as string }));
    }
    assert.equal((await kubectlSpiderpool('check')).code, 0);
  });

  it('gc --dry-run lists what the collector would free, and frees nothing', async () => {
    const ghost = { pod: `${NS}/ghost`, podUid: randomUUID() };
    await editRecords(POOL, (r) => r.set('10.253.0.12', ghost));
    const { code, data } = await json<{ release: { ip: string; pod: string; reason: string }[] }>('gc', '--dry-run');
    assert.equal(code, 0);
    assert.deepEqual(
      data.release.map((r) => `${r.ip} ${r.pod} ${r.reason}`),
      [`10.253.0.12 ${NS}/ghost PodDeleted`],
    );
    assert.deepEqual(parseRecords(await spiderpool.read(POOL)).get('10.253.0.12'), ghost);
    const refused = await kubectlSpiderpool('gc');
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /gc only previews: pass --dry-run/);
    await editRecords(POOL, (r) => r.delete('10.253.0.12'));
  });

  it('free reports free addresses, the largest free range and fragmentation', async () => {
    const { data } = await json<{ pools: { pool: string; total: number; allocated: number; free: number }[] }>(
      'free',
      POOL,
    );
    assert.deepEqual(
      data.pools.map(({ pool, total, allocated, free }) => ({ pool, total, allocated, free })),
      [{ pool: POOL, total: 3, allocated: 1, free: 2 }],
    );
    const missing = await kubectlSpiderpool('free', 'no-such-pool');
    assert.equal(missing.code, 2);
    assert.equal(missing.stderr, 'error: SpiderIPPool "no-such-pool" not found\n');
  });

  it('errors name the object and the reason', async () => {
    const run = await kubectlSpiderpool('why', 'nobody', '-n', NS);
    assert.equal(run.code, 2);
    assert.equal(run.stderr, `error: pod ${NS}/nobody not found\n`);
    const bad = await kubectlSpiderpool('who', '10.253.0.300');
    assert.equal(bad.stderr, 'error: "10.253.0.300" is not an IPv4 or IPv6 address\n');
  });
});
