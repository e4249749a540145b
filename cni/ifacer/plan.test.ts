// ifacer's decisions against host link tables as `ip -d -j link show` prints them, and the requests it issues
// against a fake host that applies them, since this kernel has neither the vlan nor the bonding driver.
import assert from 'node:assert/strict';
import { CniError } from '../skel/errors.ts';
import { parseIfacerConfig } from './config.ts';
import { IpError, type Host } from './host.ts';
import { plan, type HostLink } from './plan.ts';
import { ensure, run } from './plugin.ts';

const nic = (ifname: string, extra: Partial<HostLink> = {}): HostLink => ({
  ifname,
  flags: ['BROADCAST', 'UP'],
  ...extra,
});
const vlan = (ifname: string, parent: string, id: number, up = true): HostLink => ({
  ifname,
  flags: up ? ['UP'] : [],
  link: parent,
  linkinfo: { info_kind: 'vlan', info_data: { id } },
});
const bond = (ifname: string, up = true): HostLink => ({
  ifname,
  flags: up ? ['UP'] : [],
  linkinfo: { info_kind: 'bond' },
});

/** A host that applies the `ip link` requests it is given to its table, like the kernel with both drivers. */
class FakeHost implements Host {
  readonly requests: string[] = [];
  constructor(
    public table: HostLink[],
    private failFirst?: RegExp,
  ) {}
  async links() {
    return structuredClone(this.table);
  }
  async ip(args: string[]) {
    const line = `ip ${args.join(' ')}`;
    this.requests.push(line);
    if (this.failFirst?.test(line)) {
      this.table.push(vlan('ens192.100', 'ens192', 100, false));
      this.failFirst = undefined;
      throw new IpError(`${line}: RTNETLINK answers: File exists`, 'RTNETLINK answers: File exists');
    }
    const find = (n: string) => this.table.find((l) => l.ifname === n) as HostLink;
    if (args[0] === 'link' && args[1] === 'add' && args[2] === 'link')
      this.table.push(vlan(args[5] as string, args[3] as string, Number(args[9]), false));
    else if (args[0] === 'link' && args[1] === 'add') this.table.push(bond(args[2] as string, false));
    else if (args[3] === 'up') find(args[2] as string).flags.push('UP');
    else if (args[3] === 'down') find(args[2] as string).flags = [];
    else if (args[3] === 'master') find(args[2] as string).master = args[4];
  }
}

const conf = (raw: Record<string, unknown>) => parseIfacerConfig({ type: 'ifacer', ...raw });

describe('ifacer decisions', () => {
  it('one interface without VLAN: nothing to do', () => {
    assert.deepEqual(plan(conf({ interfaces: ['ens192'] }), [nic('ens192')]), []);
  });

  it('a VLAN: the parent up, then <parent>.<id> created and up', async () => {
    const host = new FakeHost([nic('ens192', { flags: [] })]);
    await ensure(conf({ interfaces: ['ens192'], vlanID: 100 }), host);
    assert.deepEqual(host.requests, [
      'ip link set ens192 up',
      'ip link add link ens192 name ens192.100 type vlan id 100',
      'ip link set ens192.100 up',
    ]);
  });

  it('is idempotent: a second ADD finds the VLAN interface up and issues nothing', async () => {
    const host = new FakeHost([nic('ens192')]);
    const c = conf({ interfaces: ['ens192'], vlanID: 100 });
    await ensure(c, host);
    const first = host.requests.length;
    await ensure(c, host);
    assert.equal(host.requests.length, first);
  });

  it('an existing VLAN interface that is down is only brought up', () => {
    assert.deepEqual(
      plan(conf({ interfaces: ['ens192'], vlanID: 7 }), [nic('ens192'), vlan('ens192.7', 'ens192', 7, false)]),
      [['link', 'set', 'ens192.7', 'up']],
    );
  });

  it('refuses a second VLAN interface with the same ID on the parent, naming both', () => {
    assert.throws(
      () => plan(conf({ interfaces: ['ens192'], vlanID: 100 }), [nic('ens192'), vlan('v100', 'ens192', 100)]),
      /cannot have multiple different vlan interfaces with the same vlanId 100 on ens192: v100 already has it, ens192.100 was asked for/,
    );
  });

  it('refuses a link named like the VLAN interface that is something else', () => {
    assert.throws(
      () => plan(conf({ interfaces: ['ens192'], vlanID: 5 }), [nic('ens192'), vlan('ens192.5', 'ens192', 6)]),
      /ens192.5 exists on the host but is not VLAN 5 of ens192/,
    );
  });

  it('a missing parent is an error naming it', () => {
    assert.throws(
      () => plan(conf({ interfaces: ['ens9'], vlanID: 5 }), [nic('ens192')]),
      /interface ens9 does not exist on the host/,
    );
  });

  it('a bond: created with its mode and options, members enslaved down-master-up, then the VLAN on it', async () => {
    const host = new FakeHost([nic('ens192'), nic('ens224')]);
    await ensure(
      conf({
        interfaces: ['ens192', 'ens224'],
        vlanID: 200,
        bond: { name: 'bond0', mode: 1, options: 'miimon=100;primary=ens192' },
      }),
      host,
    );
    assert.deepEqual(host.requests, [
      'ip link add bond0 type bond mode active-backup miimon 100 primary ens192',
      'ip link set ens192 down',
      'ip link set ens192 master bond0',
      'ip link set ens192 up',
      'ip link set ens224 down',
      'ip link set ens224 master bond0',
      'ip link set ens224 up',
      'ip link set bond0 up',
      'ip link add link bond0 name bond0.200 type vlan id 200',
      'ip link set bond0.200 up',
    ]);
  });

  it('reuses an existing bond and its enslaved members; the default bond name is sp_bond0', () => {
    const links = [bond('sp_bond0'), nic('ens192', { master: 'sp_bond0' }), nic('ens224', { master: 'sp_bond0' })];
    assert.deepEqual(plan(conf({ interfaces: ['ens192', 'ens224'], bond: {} }), links), []);
  });

  it('refuses a bond name taken by another kind of link, and a member enslaved elsewhere', () => {
    assert.throws(
      () => plan(conf({ interfaces: ['a', 'b'], bond: { name: 'a' } }), [nic('a'), nic('b')]),
      /a exists on the host and is not a bond \(it is a plain link\)/,
    );
    assert.throws(
      () => plan(conf({ interfaces: ['a', 'b'], bond: { name: 'bond1' } }), [nic('a', { master: 'br0' }), nic('b')]),
      /bond member a is already enslaved to br0, not bond1/,
    );
  });

  it('two pods racing: the loser of "File exists" plans again and only brings the interface up', async () => {
    const host = new FakeHost([nic('ens192')], /link add/);
    await ensure(conf({ interfaces: ['ens192'], vlanID: 100 }), host);
    assert.deepEqual(host.requests, [
      'ip link add link ens192 name ens192.100 type vlan id 100',
      'ip link set ens192.100 up',
    ]);
  });

  it('a kernel without the driver: the error names the request and the missing driver', async () => {
    const host: Host = {
      links: async () => [nic('ens192')],
      ip: async (args) => {
        throw new IpError(`ip ${args.join(' ')}: Error: Unknown device type.`, 'Error: Unknown device type.');
      },
    };
    await assert.rejects(
      ensure(conf({ interfaces: ['ens192'], vlanID: 100 }), host),
      (err: CniError) =>
        err.code === 4 &&
        /ip link add link ens192 name ens192.100 type vlan id 100: Error: Unknown device type. \(the host kernel lacks the vlan or bonding driver\)/.test(
          err.message,
        ),
    );
  });

  it('bad config is refused with the field and the reason, and nothing is asked of the host', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ interfaces: [] }, /"interfaces" must be a non-empty list/],
      [{ interfaces: ['ens192'], vlanID: 4095 }, /"vlanID" must be an integer from 0 to 4094, got 4095/],
      [{ interfaces: ['a', 'b'] }, /"bond" is required when "interfaces" lists 2 interfaces/],
      [{ interfaces: ['a', 'b'], bond: { mode: 7 } }, /"bond.mode" must be an integer from 0 to 6/],
      [{ interfaces: ['a', 'b'], bond: { options: 'miimon=100;nope=1' } }, /"bond.options" has unknown option "nope"/],
      [{ interfaces: ['a', 'b'], bond: { options: 'miimon=1 up' } }, /option "miimon" needs a value/],
      [{ interfaces: ['bad/name'] }, /"interfaces\[0\]" must be an interface name/],
      [{ interfaces: ['a', 'a'], bond: {} }, /names a twice/],
    ];
    for (const [raw, message] of cases) {
      const host = new FakeHost([nic('a'), nic('b'), nic('ens192')]);
      const out = await run(
        {
          CNI_COMMAND: 'ADD',
          CNI_CONTAINERID: 'c1',
          CNI_NETNS: '/var/run/netns/x',
          CNI_IFNAME: 'net1',
          CNI_PATH: '/opt/cni/bin',
        },
        JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'ifacer', ...raw }),
        host,
      );
      assert.equal(out.exitCode, 1, JSON.stringify(raw));
      const error = JSON.parse(out.stdout) as { code: number; msg: string };
      assert.equal(error.code, 7);
      assert.match(error.msg, message);
      assert.deepEqual(host.requests, []);
    }
  });

  it('ADD passes prevResult on; DEL and CHECK touch nothing', async () => {
    const env = { CNI_CONTAINERID: 'c1', CNI_NETNS: '/var/run/netns/x', CNI_IFNAME: 'net1', CNI_PATH: '/opt/cni/bin' };
    const host = new FakeHost([nic('ens192')]);
    const prevResult = { cniVersion: '1.0.0', interfaces: [{ name: 'net1' }], ips: [] };
    const stdin = JSON.stringify({
      cniVersion: '1.0.0',
      name: 'n',
      type: 'ifacer',
      interfaces: ['ens192'],
      vlanID: 3,
      prevResult,
    });
    assert.deepEqual(JSON.parse((await run({ ...env, CNI_COMMAND: 'ADD' }, stdin, host)).stdout), prevResult);
    const issued = host.requests.length;
    for (const command of ['DEL', 'CHECK'])
      assert.equal((await run({ ...env, CNI_COMMAND: command }, stdin, host)).exitCode, 0);
    assert.equal(host.requests.length, issued);
  });
});
