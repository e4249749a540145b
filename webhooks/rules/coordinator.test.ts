import assert from 'node:assert/strict';
import type { CoordinatorSpec, SpiderCoordinator } from '../../api/v2beta1/types.ts';
import { FINALIZER } from '../../api/v2beta1/constants.ts';
import { mutateCoordinator, validateCoordinator } from './coordinator.ts';
import { FakeCluster, admit, meta } from './testing.ts';

const coordinator = (spec: CoordinatorSpec): SpiderCoordinator => ({
  ...meta('default'),
  kind: 'SpiderCoordinator',
  spec,
});

describe('SpiderCoordinator webhook', () => {
  const run = (c: SpiderCoordinator) =>
    admit(mutateCoordinator(), validateCoordinator(), new FakeCluster(), 'CREATE', 'SpiderCoordinator', c);

  it('fills the defaults, normalises bare IPs to CIDRs and adds the finalizer', async () => {
    const { object, decision } = await run(
      coordinator({
        podCIDRType: 'cluster',
        hijackCIDR: ['169.254.25.10', '10.233.0.5/18'],
        policyRoutes: [{ dst: 'fd00::5', gw: 'fd00::1' }],
      }),
    );
    assert.equal(decision.allowed, true, decision.message);
    assert.deepEqual(object.metadata.finalizers, [FINALIZER]);
    assert.deepEqual(object.spec, {
      mode: 'auto',
      tunePodRoutes: true,
      hostRuleTable: 500,
      podRPFilter: 0,
      txQueueLen: 0,
      vethMTU: 1500,
      podCIDRType: 'cluster',
      hijackCIDR: ['169.254.25.10/32', '10.233.0.0/18'],
      policyRoutes: [{ dst: 'fd00::5/128', gw: 'fd00::1' }],
    });
  });

  const cases: [string, CoordinatorSpec, RegExp][] = [
    ['podCIDRType missing', {}, /spec\.podCIDRType is required/],
    [
      'hijackCIDR not a network',
      { podCIDRType: 'none', hijackCIDR: ['10.0.0.0/33'] },
      /spec\.hijackCIDR\[0\] "10\.0\.0\.0\/33" is neither an IP address nor a CIDR/,
    ],
    [
      'policy route of mixed families',
      { podCIDRType: 'none', policyRoutes: [{ dst: '10.0.0.0/8', gw: 'fd00::1' }] },
      /spec\.policyRoutes\[0\]: dst "10\.0\.0\.0\/8" and gw "fd00::1" must use the same IP family/,
    ],
    [
      'policy route gw not an IP',
      { podCIDRType: 'none', policyRoutes: [{ dst: '10.0.0.0/8', gw: 'router' }] },
      /spec\.policyRoutes\[0\]\.gw "router" is not a valid IP address/,
    ],
    [
      'multicast MAC prefix',
      { podCIDRType: 'none', podMACPrefix: '01:00' },
      /spec\.podMACPrefix "01:00" is not a unicast MAC/,
    ],
    [
      'malformed MAC prefix',
      { podCIDRType: 'none', podMACPrefix: '0a-00' },
      /spec\.podMACPrefix "0a-00" is not a valid MAC prefix/,
    ],
    [
      'veth link address not an IP',
      { podCIDRType: 'none', vethLinkAddress: '169.254.300.1' },
      /spec\.vethLinkAddress "169\.254\.300\.1" is not a valid IP address/,
    ],
    ['host rule table main', { podCIDRType: 'none', hostRuleTable: 254 }, /spec\.hostRuleTable 254 is not usable/],
    [
      'default route NIC name too long',
      { podCIDRType: 'none', podDefaultRouteNIC: 'averyveryverylongname' },
      /spec\.podDefaultRouteNIC "averyveryverylongname" is longer than 15 characters/,
    ],
  ];
  for (const [title, spec, pattern] of cases) {
    it(`refuses: ${title}`, async () => {
      const { decision } = await run(coordinator(spec));
      assert.equal(decision.allowed, false);
      assert.match(decision.message ?? '', /^SpiderCoordinator "default": /);
      assert.match(decision.message ?? '', pattern);
    });
  }
});
