// The simulated L2 network: nodes get NICs named like real ones, each NIC name is its own segment
// across nodes, and teardown leaves no namespace or link behind.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createFabric, type Fabric, netnsWithPrefix } from './fabric.ts';
import { execInNetns, ip } from './netns.ts';

async function linkNames(netns?: string): Promise<string[]> {
  const out = await ip([...(netns ? ['-n', netns] : []), '-o', 'link', 'show']);
  // "3: eth0@if4: <…>" – the name sits between the index and the optional @peer.
  return out
    .split('\n')
    .map((l) => l.split(': ')[1]?.split('@')[0] ?? '')
    .filter(Boolean);
}

describe('fabric', function () {
  this.timeout(60_000);
  const prefix = `ft${randomBytes(3).toString('hex')}`;
  let fabric: Fabric | undefined;

  after(async () => {
    await fabric?.teardown();
  });

  it('cables nodes with real-looking NICs onto one segment per NIC name', async () => {
    const f = await createFabric({ prefix, nics: ['eth0', 'ens192'], nodeCidr: '192.168.77.0/24' });
    fabric = f;
    const a = await f.addNode('node-a');
    const b = await f.addNode('node-b');
    assert.equal(await f.addNode('node-a'), a, 'adding a node twice returns the same node');
    assert.deepEqual([a.netns, b.netns], [`${prefix}-node-a`, `${prefix}-node-b`]);
    assert.deepEqual([a.address, b.address], ['192.168.77.1', '192.168.77.2']);
    assert.deepEqual((await linkNames(a.netns)).sort(), ['ens192', 'eth0', 'lo']);
    assert.deepEqual((await netnsWithPrefix(prefix)).sort(), [
      `${prefix}-fabric`,
      `${prefix}-node-a`,
      `${prefix}-node-b`,
    ]);
    assert.deepEqual(
      await linkNames().then((l) => l.filter((n) => n.includes(prefix))),
      [],
      'nothing is created in the host namespace',
    );

    const ping = await execInNetns(a.netns, ['ping', '-c', '1', '-W', '2', b.address]);
    assert.equal(ping.code, 0, `node-a reaches node-b over eth0: ${ping.stdout}${ping.stderr}`);
    await ip(['-n', a.netns, 'addr', 'add', '10.77.0.1/24', 'dev', 'ens192']);
    await ip(['-n', b.netns, 'addr', 'add', '10.77.0.2/24', 'dev', 'ens192']);
    const viaEns192 = await execInNetns(a.netns, ['ping', '-c', '1', '-W', '2', '10.77.0.2']);
    assert.equal(viaEns192.code, 0, `node-a reaches node-b over ens192: ${viaEns192.stdout}${viaEns192.stderr}`);
    // Each bridge holds exactly one port per node: the NIC names are separate segments.
    for (const nic of ['eth0', 'ens192']) {
      const ports = (await ip(['-n', f.netns, '-o', 'link', 'show', 'master', `br-${nic}`]))
        .split('\n')
        .filter(Boolean);
      assert.deepEqual(
        ports.map((l) => l.split(': ')[1]?.split('@')[0]).sort(),
        [`v1-${nic}`, `v2-${nic}`],
        `br-${nic} has one port per node`,
      );
    }
  });

  it('teardown removes every namespace and link it created', async () => {
    assert.ok(fabric);
    await fabric.teardown();
    assert.deepEqual(await netnsWithPrefix(prefix), []);
    assert.deepEqual(
      (await linkNames()).filter((n) => n.includes(prefix)),
      [],
    );
    await fabric.teardown();
  });

  it('rejects NIC names that cannot fit and node names it reserves', async () => {
    await assert.rejects(createFabric({ prefix: `${prefix}x`, nics: ['averyverylongnic'] }), /at most/);
    const f = await createFabric({ prefix: `${prefix}y`, nics: ['eth0'] });
    try {
      await assert.rejects(f.addNode('fabric'), /reserved/);
      await assert.rejects(f.addNode('pod-1'), /reserved/);
    } finally {
      await f.teardown();
    }
    assert.deepEqual(await netnsWithPrefix(`${prefix}y`), []);
  });
});
