// Both forms of the networks annotation (docs/pool-selection.md#multus-networks) and the network-status entries built
// from CNI results.
import assert from 'node:assert/strict';
import { networkStatus, parseNetworkSelections } from './multus.ts';

describe('Multus annotations', () => {
  it('parses the comma-separated form with namespaces and interface names', () => {
    assert.deepEqual(parseNetworkSelections(' macvlan-ens192, kube-system/sriov@net5 ,other@eth9', 'team-a'), [
      { name: 'macvlan-ens192', namespace: 'team-a' },
      { name: 'sriov', namespace: 'kube-system', interface: 'net5' },
      { name: 'other', namespace: 'team-a', interface: 'eth9' },
    ]);
    assert.deepEqual(parseNetworkSelections('', 'team-a'), []);
  });

  it('parses the JSON form with interface, mac and ips', () => {
    const value =
      '[{"name":"a","interface":"ens1","ips":["10.0.0.5/24"],"mac":"02:00:00:00:00:05"},{"name":"b","namespace":"n2"}]';
    assert.deepEqual(parseNetworkSelections(value, 'team-a'), [
      { name: 'a', namespace: 'team-a', interface: 'ens1', mac: '02:00:00:00:00:05', ips: ['10.0.0.5/24'] },
      { name: 'b', namespace: 'n2' },
    ]);
  });

  it('rejects malformed elements', () => {
    assert.throws(() => parseNetworkSelections('a/b/c', 'd'), /more than one/);
    assert.throws(() => parseNetworkSelections('a@b@c', 'd'), /more than one/);
    assert.throws(() => parseNetworkSelections('Upper', 'd'), /DNS-1123/);
    assert.throws(() => parseNetworkSelections('a@averyveryverylongname', 'd'), /interface name/);
    assert.throws(() => parseNetworkSelections('[{"namespace":"x"}]', 'd'), /needs a "name"/);
    assert.throws(() => parseNetworkSelections('[{', 'd'), /not valid JSON/);
  });

  it('describes an attachment the way Multus writes network-status', () => {
    const conf = { name: 'x', cniVersion: '0.4.0', plugins: [{ type: 'macvlan' }] };
    const result = {
      interfaces: [{ name: 'net1', mac: '02:11:22:33:44:55', sandbox: '/var/run/netns/p' }],
      ips: [
        { address: '10.6.212.101/16', interface: 0 },
        { address: 'fd00::5/64', interface: 0 },
      ],
    };
    assert.deepEqual(
      networkStatus({ network: 'ns/macvlan', ifname: 'net1', isDefault: false, conf, capabilityArgs: {} }, result),
      {
        name: 'ns/macvlan',
        interface: 'net1',
        ips: ['10.6.212.101', 'fd00::5'],
        mac: '02:11:22:33:44:55',
        default: false,
        dns: {},
      },
    );
  });
});
