// The ipvlan stand-in: an ipvlan plugin becomes macvlan in bridge mode on the same master, everything else in
// the list (IPAM, coordinator) is left as the NAD has it, and the kernel probe answers for this machine.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { addNetns, deleteNetns, execCommand, ip } from './netns.ts';
import { kernelHasIpvlan, substituteIpvlan, substitutionMessage } from './substitute.ts';

describe('ipvlan substitution', () => {
  it('replaces only the ipvlan plugin, keeping its master, IPAM and the plugins after it', () => {
    const ipam = { type: 'spiderpool', default_ipv4_ippool: ['master-172'] };
    const coordinator = { type: 'coordinator', mode: 'underlay' };
    const { conf, replaced } = substituteIpvlan({
      name: 'ipvlan-eth0',
      cniVersion: '0.3.1',
      plugins: [{ type: 'ipvlan', master: 'eth0', mode: 'l2', ipam }, coordinator],
    });
    assert.deepEqual(replaced, ['eth0']);
    assert.deepEqual(conf.plugins, [{ type: 'macvlan', master: 'eth0', mode: 'bridge', ipam }, coordinator]);
    assert.equal(conf.name, 'ipvlan-eth0');
  });

  it('leaves a list without ipvlan alone', () => {
    const list = { name: 'm', cniVersion: '0.4.0', plugins: [{ type: 'macvlan', master: 'ens192' }] };
    assert.deepEqual(substituteIpvlan(list), { conf: list, replaced: [] });
  });

  it('names the network, the interface and the master in the event message', () => {
    assert.equal(
      substitutionMessage('kube-system/ipvlan-eth1', 'eth0', ['eth1']),
      'this kernel has no ipvlan: eth0 from network "kube-system/ipvlan-eth1" is a macvlan link (bridge mode) on eth1; ' +
        'its IPAM, coordinator and routes are as the network configures them',
    );
  });

  it('probes the kernel inside a namespace and leaves nothing behind', async () => {
    const netns = `spt-probe-${randomBytes(3).toString('hex')}`;
    await addNetns(netns);
    try {
      await ip(['-n', netns, 'link', 'add', 'p0', 'type', 'veth', 'peer', 'name', 'p1']);
      const direct = await execCommand('ip', ['-n', netns, 'link', 'add', 'iv', 'link', 'p0', 'type', 'ipvlan']);
      assert.equal(await kernelHasIpvlan(netns, 'p0'), direct.code === 0);
      await execCommand('ip', ['-n', netns, 'link', 'del', 'iv']);
      assert.doesNotMatch(await ip(['-n', netns, 'link', 'show']), /spt-ipvlan-probe/);
    } finally {
      await deleteNetns(netns);
    }
  });
});
