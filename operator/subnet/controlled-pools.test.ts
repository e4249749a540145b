import assert from 'node:assert/strict';
import type { SpiderSubnet } from '../../api/v2beta1/types.ts';
import {
  ControlledPoolsError,
  parseControlledPools,
  reservedIPs,
  sameSubnetStatus,
  serializeControlledPools,
  subnetStatusFor,
} from './controlled-pools.ts';

function subnet(controlledIPPools?: string): SpiderSubnet {
  return {
    apiVersion: 'spiderpool.spidernet.io/v2beta1',
    kind: 'SpiderSubnet',
    metadata: { name: 'subnet-6' },
    spec: { subnet: '10.6.0.0/16', ips: ['10.6.0.1-10.6.0.100'], excludeIPs: ['10.6.0.1'] },
    ...(controlledIPPools === undefined ? {} : { status: { controlledIPPools } }),
  };
}

describe('subnet ledger (status.controlledIPPools)', () => {
  it("reads Spiderpool's format, with and without application", () => {
    const s = subnet(
      '{"auto4-nginx-eth0-abcde":{"ips":["10.6.0.10-10.6.0.12"],"application":"apps_v1_Deployment_default_nginx"},"manual":{"ips":["10.6.0.50"]}}',
    );
    assert.deepEqual(
      [...parseControlledPools(s)],
      [
        ['auto4-nginx-eth0-abcde', { ips: ['10.6.0.10-10.6.0.12'], application: 'apps_v1_Deployment_default_nginx' }],
        ['manual', { ips: ['10.6.0.50'] }],
      ],
    );
    assert.deepEqual(reservedIPs(s, parseControlledPools(s), 'manual').toRanges(), ['10.6.0.10-10.6.0.12']);
  });

  it('an absent or null ledger is empty', () => {
    assert.equal(parseControlledPools(subnet()).size, 0);
    assert.equal(parseControlledPools(subnet('null')).size, 0);
  });

  it('a malformed ledger is an error naming the subnet and the field', () => {
    assert.throws(
      () => parseControlledPools(subnet('{')),
      (err: unknown) =>
        err instanceof ControlledPoolsError &&
        /SpiderSubnet subnet-6: status.controlledIPPools is not valid JSON/.test(err.message),
    );
    assert.throws(() => parseControlledPools(subnet('{"p":{"ips":"10.6.0.1"}}')), /"ips" of pool p is not a list/);
  });

  it('serializes sorted by pool name, so equal ledgers are equal strings', () => {
    const a = serializeControlledPools(
      new Map([
        ['b', { ips: ['10.6.0.2'] }],
        ['a', { ips: ['10.6.0.1'], application: 'x' }],
      ]),
    );
    assert.equal(a, '{"a":{"ips":["10.6.0.1"],"application":"x"},"b":{"ips":["10.6.0.2"]}}');
    assert.equal(serializeControlledPools(new Map()), undefined);
  });

  it('the status counts ips − excludeIPs and the addresses reserved for pools', () => {
    const s = subnet();
    const status = subnetStatusFor(
      s,
      new Map([
        ['p', { ips: ['10.6.0.10-10.6.0.12', '10.6.0.20'] }],
        ['q', { ips: ['10.6.0.30'] }],
      ]),
    );
    assert.deepEqual(status, {
      controlledIPPools: '{"p":{"ips":["10.6.0.10-10.6.0.12","10.6.0.20"]},"q":{"ips":["10.6.0.30"]}}',
      totalIPCount: 99,
      allocatedIPCount: 5,
    });
    assert.deepEqual(subnetStatusFor(s, new Map()), { totalIPCount: 99, allocatedIPCount: 0 });
    assert.ok(sameSubnetStatus({ totalIPCount: 99, allocatedIPCount: 0 }, subnetStatusFor(s, new Map())));
    assert.ok(!sameSubnetStatus(undefined, subnetStatusFor(s, new Map())));
  });

  it('an IPv6 /64 saturates the count instead of losing precision', () => {
    const s: SpiderSubnet = { ...subnet(), spec: { subnet: 'fd00::/64', ips: ['fd00::-fd00::ffff:ffff:ffff:ffff'] } };
    assert.equal(subnetStatusFor(s, new Map()).totalIPCount, Number.MAX_SAFE_INTEGER);
  });
});
