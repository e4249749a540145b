// The agent's ADD and DEL against an in-memory cluster whose apiserver calls can fail, hang or lose their
// answer after committing. Whatever happens, one address must never be held by two pods.
import assert from 'node:assert/strict';
import { AgentFailure } from './errors.ts';
import { addArgs, addressOf, apiError, setup } from './testing/fake-cluster.ts';

/** Resolves with how long the call took, or rejects when it takes longer than `ms`. */
async function within<T>(ms: number, call: Promise<T>): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return { value: await Promise.race([call, late]), ms: Date.now() - started };
  } finally {
    clearTimeout(timer);
  }
}

describe('Ipam under apiserver faults', () => {
  it('rollback-keeps-held-addresses: a repeated ADD whose endpoint create fails gives back nothing the pod already held', async () => {
    const { cluster, ipam } = setup();
    const a = cluster.addPod('a');
    const first = await ipam.allocate(addArgs(a));
    const x = addressOf(first);
    assert.equal(x, '10.6.0.10');

    // The repeated ADD plans again, gets X back "already held", and its endpoint create is throttled.
    cluster.createFaults.push({ fault: 'fail', error: apiError(429) });
    await assert.rejects(ipam.allocate(addArgs(a)), (e: unknown) => e instanceof AgentFailure);
    assert.deepEqual(cluster.records()[x], { pod: 'ns/a', podUid: a.metadata!.uid, nic: 'eth0' }, "X still a's");

    const b = cluster.addPod('b');
    assert.notEqual(addressOf(await ipam.allocate(addArgs(b))), x, 'another pod never gets X');
  });

  it('lost-create-answer-keeps-address: an endpoint create that commits but loses its answer frees nothing', async () => {
    const { cluster, ipam } = setup();
    const a = cluster.addPod('a');
    cluster.createFaults.push({ fault: 'commit-then-fail', error: apiError(504) });
    const x = addressOf(await ipam.allocate(addArgs(a)))!;
    assert.equal(x, '10.6.0.10', 'the endpoint read again shows that the create committed');
    assert.equal(cluster.endpoints.get('a')?.status?.current.ips[0]?.ipv4, '10.6.0.10/16');
    assert.equal(cluster.records()[x]?.podUid, a.metadata!.uid, 'its address is still recorded for the pod');

    const b = cluster.addPod('b');
    const bAddress = addressOf(await ipam.allocate(addArgs(b)));
    assert.notEqual(bAddress, x, 'another pod never gets X');
    assert.equal(addressOf(await ipam.allocate(addArgs(a))), x, 'the retry returns what the endpoint records');
    assert.equal(cluster.records()[x]?.podUid, a.metadata!.uid);
  });

  it('repeated-add-rebinds-endpoint: a repeated ADD restores the records its endpoint shows, and fails if another UID holds one', async () => {
    const { cluster, ipam } = setup();
    const a = cluster.addPod('a');
    const x = addressOf(await ipam.allocate(addArgs(a)))!;
    // The record is gone (freed by an older agent, or by hand) while the endpoint still shows X.
    cluster.foreignWrite('p', { allocatedIPCount: 0 });
    assert.equal(addressOf(await ipam.allocate(addArgs(a))), x);
    assert.equal(cluster.records()[x]?.podUid, a.metadata!.uid, 'the repeated ADD recorded X again');

    // Now another pod holds X: the repeated ADD must not answer with it.
    const c = cluster.addPod('c');
    const taken = { [x]: { pod: 'ns/c', podUid: c.metadata!.uid } };
    cluster.foreignWrite('p', { allocatedIPs: JSON.stringify(taken), allocatedIPCount: 1 });
    await assert.rejects(ipam.allocate(addArgs(a)), /belongs to ns\/c/);
    assert.deepEqual(cluster.records(), taken, 'nothing changed');
  });

  it('hung-pool-write-does-not-wedge-node: a status write that never answers fails its ADD in time, and later ADDs go on', async () => {
    const { cluster, ipam } = setup({ apiTimeoutMs: 100 });
    const [a, b] = [cluster.addPod('a'), cluster.addPod('b')];
    cluster.writeFaults.push('hang', 'hang', 'hang');
    const failed = await within(
      2000,
      ipam.allocate(addArgs(a)).then(
        () => 'answered',
        (e: unknown) => (e as Error).message,
      ),
    );
    assert.match(failed.value, /no answer within 100 ms/);
    const next = await within(1000, ipam.allocate(addArgs(b)));
    assert.equal(addressOf(next.value), '10.6.0.10', 'nothing was recorded by the writes that never answered');
    assert.deepEqual(Object.keys(cluster.records()), ['10.6.0.10']);
  });

  it('timed-out-write-is-unknown-outcome: a write that commits but never answers is re-read, not retaken or freed', async () => {
    const { cluster, ipam } = setup({ apiTimeoutMs: 100 });
    const a = cluster.addPod('a');
    cluster.writeFaults.push('commit-then-hang');
    const x = addressOf((await within(2000, ipam.allocate(addArgs(a)))).value);
    assert.equal(x, '10.6.0.10');
    assert.deepEqual(cluster.records(), { '10.6.0.10': { pod: 'ns/a', podUid: a.metadata!.uid, nic: 'eth0' } });

    // The same, for a write whose endpoint create then fails for good: the address it took is given back.
    const b = cluster.addPod('b');
    cluster.writeFaults.push('commit-then-hang');
    cluster.createFaults.push({ fault: 'fail', error: apiError(403) });
    await assert.rejects(ipam.allocate(addArgs(b)));
    assert.deepEqual(Object.keys(cluster.records()), ['10.6.0.10'], 'what b took was given back');
  });

  it('overlapping-pools-never-share-an-address: a pool does not hand out what an overlapping pool has recorded', async () => {
    const { cluster, ipam } = setup();
    cluster.addPool('q', { ips: ['10.6.0.10-10.6.0.12'] });
    const a = cluster.addPod('a', ['p']);
    const b = cluster.addPod('b', ['q']);
    assert.equal(addressOf(await ipam.allocate(addArgs(a))), '10.6.0.10');
    assert.equal(addressOf(await ipam.allocate(addArgs(b))), '10.6.0.11', 'q skips what p recorded');
    const c = cluster.addPod('c', ['p']);
    assert.equal(addressOf(await ipam.allocate(addArgs(c))), '10.6.0.12', 'and p skips what q recorded');
  });

  it('malformed-records-are-skipped: bad allocatedIPs entries neither block the pool nor free their address', async () => {
    const { cluster, ipam } = setup();
    const bad = {
      __proto__: { pod: 'ns/x', podUid: 'x' },
      'not-an-ip': { pod: 'ns/y', podUid: 'y' },
      '10.6.0.10': { podUid: 'no-pod' },
      '10.6.0.11': 'a string',
    };
    const allocatedIPs = `{"__proto__":${JSON.stringify(bad.__proto__)},${JSON.stringify(bad).slice(1)}`;
    cluster.foreignWrite('p', { allocatedIPs, allocatedIPCount: 0 });
    const a = cluster.addPod('a');
    assert.equal(addressOf(await ipam.allocate(addArgs(a))), '10.6.0.12', 'addresses under bad entries stay taken');
    const stored = JSON.parse(cluster.poolStore.get('p')!.status!.allocatedIPs!) as Record<string, unknown>;
    assert.deepEqual(Object.entries(stored), [
      ...Object.entries(JSON.parse(allocatedIPs) as Record<string, unknown>),
      ['10.6.0.12', { pod: 'ns/a', podUid: a.metadata!.uid, nic: 'eth0' }],
    ]);
    assert.equal(cluster.poolStore.get('p')!.status!.allocatedIPCount, 1);
  });

  it('del-without-uid-spares-live-pod: a DEL without K8S_POD_UID frees nothing while a pod of that name lives', async () => {
    const { cluster, ipam } = setup();
    const a = cluster.addPod('a');
    const x = addressOf(await ipam.allocate(addArgs(a)))!;
    const withoutUid = { ...addArgs(a), podUID: '' }; // what the plugin sends without K8S_POD_UID
    await ipam.release(withoutUid);
    assert.equal(cluster.records()[x]?.podUid, a.metadata!.uid);
    assert.ok(cluster.endpoints.has('a'));

    cluster.pods.get('a')!.status = { phase: 'Succeeded' };
    await ipam.release(withoutUid);
    assert.deepEqual(cluster.records(), {}, 'a finished pod is released by name');
  });

  it('refused-release-outlives-del: a DEL whose pool writes keep being refused is answered in time, its release written later', async () => {
    const { cluster, ipam } = setup({ releaseWaitMs: 100 });
    const a = cluster.addPod('a');
    const x = addressOf(await ipam.allocate(addArgs(a)))!;
    cluster.pods.delete('a');
    cluster.refusedWrites = Number.MAX_SAFE_INTEGER;
    const answered = await within(2000, ipam.release(addArgs(a)));
    assert.ok(answered.ms >= 100, 'the DEL waited for its release first');
    assert.ok(!cluster.endpoints.has('a'));
    assert.equal(cluster.records()[x]?.podUid, a.metadata!.uid, 'not handed out before the release is written');

    assert.equal(await ipam.finishReleases(50), false, 'a stopping agent waits only so long');
    setTimeout(() => (cluster.refusedWrites = 0), 100);
    assert.equal(await ipam.finishReleases(2000), true, 'and no longer than the release takes');
    assert.deepEqual(cluster.records(), {}, 'the release went on after the answer');
    assert.equal(await ipam.finishReleases(2000), true);
  });

  it('pod-names-are-dns-1123: names that are no DNS-1123 label or subdomain are refused as WrongInput', async () => {
    const { cluster, ipam } = setup();
    const a = cluster.addPod('a');
    for (const [podNamespace, podName] of [
      ['ns', '../../secrets/x'],
      ['ns', 'A'],
      ['ns', 'a/b'],
      ['ns', 'x'.repeat(254)],
      ['ns/..', 'a'],
      ['NS', 'a'],
      ['n'.repeat(64), 'a'],
    ]) {
      for (const call of [
        ipam.allocate({ ...addArgs(a), podNamespace: podNamespace!, podName: podName! }),
        ipam.release({ ...addArgs(a), podNamespace: podNamespace!, podName: podName! }),
      ]) {
        await assert.rejects(
          call,
          (e: unknown) => e instanceof AgentFailure && e.reason === 'WrongInput' && /DNS-1123/.test(e.message),
          `${podNamespace}/${podName}`,
        );
      }
    }
  });
});
