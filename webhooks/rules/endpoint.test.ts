import assert from 'node:assert/strict';
import type { SpiderEndpoint, SpiderEndpointStatus } from '../../api/v2beta1/types.ts';
import { validateEndpoint } from './endpoint.ts';
import { FakeCluster, meta, request } from './testing.ts';

const endpoint = (
  ips: SpiderEndpointStatus['current']['ips'],
  current: Partial<SpiderEndpointStatus['current']> = {},
): SpiderEndpoint => ({
  ...meta('nginx-1', { namespace: 'default' }),
  kind: 'SpiderEndpoint',
  status: {
    current: { uid: 'u1', node: 'node-1', ips, ...current },
    ownerControllerType: 'Pod',
    ownerControllerName: 'nginx-1',
  },
});

describe('SpiderEndpoint webhook', () => {
  const check = (e: SpiderEndpoint) => validateEndpoint()(request('CREATE', 'SpiderEndpoint', e), new FakeCluster());

  it('accepts what the agent writes', async () => {
    const decision = await check(
      endpoint([
        {
          interface: 'eth0',
          ipv4: '10.6.0.12/16',
          ipv4Pool: 'pool-a',
          ipv4Gateway: '10.6.0.1',
          ipv6: 'fd00::12/64',
          ipv6Pool: 'pool-b',
          vlan: 0,
          routes: [
            { dst: '10.7.0.0/16', gw: '10.6.0.254' },
            { dst: 'fd01::/64', gw: 'fd00::1' },
          ],
        },
      ]),
    );
    assert.deepEqual(decision, { allowed: true });
  });
  it('lets the agent remove its finalizer from a record it could not write today', async () => {
    const stored = endpoint([{ interface: 'eth0', ipv4: '10.6.0.12' }]);
    stored.metadata.deletionTimestamp = new Date();
    stored.metadata.finalizers = ['spiderpool.spidernet.io'];
    const released = { ...stored, metadata: { ...stored.metadata, finalizers: [] } };
    assert.deepEqual(
      await validateEndpoint()(request('UPDATE', 'SpiderEndpoint', released, stored), new FakeCluster()),
      { allowed: true },
    );
    const edited = { ...released, status: { ...stored.status!, ownerControllerName: 'other' } };
    assert.equal(
      (await validateEndpoint()(request('UPDATE', 'SpiderEndpoint', edited, stored), new FakeCluster())).allowed,
      false,
    );
  });

  it('names every problem with its path', async () => {
    const decision = await check(
      endpoint(
        [
          { interface: 'eth0', ipv4: '10.6.0.12', ipv4Pool: 'p' },
          {
            interface: 'eth0',
            ipv6: '10.6.0.13/16',
            ipv6Pool: 'p',
            ipv4Gateway: 'fd00::1',
            routes: [{ dst: '10.7.0.0/16', gw: 'fd00::1' }],
          },
          { interface: 'eth1', ipv4: '10.6.0.14/16' },
        ],
        { uid: '' },
      ),
    );
    const message = decision.message ?? '';
    assert.match(message, /^SpiderEndpoint "default\/nginx-1": /);
    for (const part of [
      /status\.current\.uid must name the pod/,
      /status\.current\.ips\[0\]\.ipv4: "10\.6\.0\.12" has no prefix length/,
      /status\.current\.ips\[1\]\.interface "eth0" duplicates status\.current\.ips\[0\]\.interface/,
      /status\.current\.ips\[1\]\.ipv6 "10\.6\.0\.13\/16" is not an IPv6 address/,
      /status\.current\.ips\[1\]\.ipv4Gateway "fd00::1" is not an IPv4 address/,
      /status\.current\.ips\[1\]\.routes\[0\]: dst "10\.7\.0\.0\/16" and gw "fd00::1" are of different IP families/,
      /status\.current\.ips\[2\]\.ipv4Pool is required when status\.current\.ips\[2\]\.ipv4 is set/,
    ])
      assert.match(message, part);
  });
});
