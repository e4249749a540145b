import assert from 'node:assert/strict';
import type { SpiderIPPool, SpiderSubnet } from '../../api/v2beta1/types.ts';
import { FINALIZER } from '../../api/v2beta1/constants.ts';
import { DEFAULT_RULE_OPTIONS } from './options.ts';
import { mutateSubnet, validateSubnet } from './subnet.ts';
import { FakeCluster, admit, meta, request } from './testing.ts';

const subnet = (name: string, spec: SpiderSubnet['spec'], extra: Partial<SpiderSubnet> = {}): SpiderSubnet => ({
  ...meta(name),
  kind: 'SpiderSubnet',
  spec,
  ...extra,
});
const pool = (name: string, spec: SpiderIPPool['spec'], status?: SpiderIPPool['status']): SpiderIPPool => ({
  ...meta(name),
  kind: 'SpiderIPPool',
  spec,
  ...(status ? { status } : {}),
});

describe('SpiderSubnet webhook', () => {
  let cluster: FakeCluster;
  const mutate = mutateSubnet();
  const validate = validateSubnet(DEFAULT_RULE_OPTIONS);
  const create = (s: SpiderSubnet) => admit(mutate, validate, cluster, 'CREATE', 'SpiderSubnet', s);
  const update = (s: SpiderSubnet, old: SpiderSubnet) =>
    admit(mutate, validate, cluster, 'UPDATE', 'SpiderSubnet', s, old);
  const deniedWith = async (p: ReturnType<typeof create>, pattern: RegExp) => {
    const { decision } = await p;
    assert.equal(decision.allowed, false, 'expected a denial');
    assert.match(decision.message ?? '', pattern);
  };
  beforeEach(() => {
    cluster = new FakeCluster();
  });

  it('gets the finalizer, ipVersion, label and merged ranges', async () => {
    const { object, decision } = await create(
      subnet('s', { subnet: '10.6.0.0/16', ips: ['10.6.0.10-10.6.0.20', '10.6.0.5-10.6.0.12'] }),
    );
    assert.equal(decision.allowed, true, decision.message);
    assert.deepEqual(object.metadata.finalizers, [FINALIZER]);
    assert.equal(object.spec.ipVersion, 4);
    assert.equal(object.metadata.labels?.['ipam.spidernet.io/subnet-cidr'], '10-6-0-0-16');
    assert.deepEqual(object.spec.ips, ['10.6.0.5-10.6.0.20']);
  });

  it('refuses a /0 subnet', () =>
    deniedWith(
      create(subnet('s', { subnet: '::/0' })),
      /SpiderSubnet "s": spec\.subnet ::\/0 covers every IPv6 address/,
    ));
  it('refuses excludeIPs outside the subnet', () =>
    deniedWith(
      create(subnet('s', { subnet: '10.6.0.0/16', excludeIPs: ['10.8.0.1'] })),
      /SpiderSubnet "s": spec\.excludeIPs\[0\] "10\.8\.0\.1" is outside spec\.subnet 10\.6\.0\.0\/16/,
    ));

  it('refuses overlapping another subnet', async () => {
    cluster.subnets = [subnet('t', { subnet: '10.6.0.0/24', ipVersion: 4 })];
    await deniedWith(
      create(subnet('s', { subnet: '10.6.0.0/16' })),
      /spec\.subnet 10\.6\.0\.0\/16 overlaps spec\.subnet 10\.6\.0\.0\/24 of SpiderSubnet "t"/,
    );
  });

  it('refuses a pool of an overlapping but different subnet', async () => {
    cluster.pools = [pool('p', { subnet: '10.6.1.0/24', ipVersion: 4 })];
    await deniedWith(
      create(subnet('s', { subnet: '10.6.0.0/16' })),
      /overlaps spec\.subnet 10\.6\.1\.0\/24 of SpiderIPPool "p"/,
    );
  });

  it('refuses leaving out addresses an existing pool of the same subnet holds', async () => {
    cluster.pools = [pool('p', { subnet: '10.6.0.0/16', ipVersion: 4, ips: ['10.6.0.10-10.6.0.30'] })];
    await deniedWith(
      create(subnet('s', { subnet: '10.6.0.0/16', ips: ['10.6.0.1-10.6.0.20'] })),
      /leaves out 10\.6\.0\.21-10\.6\.0\.30, which SpiderIPPool "p" holds/,
    );
    const { decision } = await create(subnet('s', { subnet: '10.6.0.0/16', ips: ['10.6.0.1-10.6.0.40'] }));
    assert.equal(decision.allowed, true, decision.message);
  });

  it('cannot shrink below its pools or the addresses it set aside', async () => {
    cluster.pools = [pool('p', { subnet: '10.6.0.0/16', ipVersion: 4, ips: ['10.6.0.10-10.6.0.30'] })];
    const stored = subnet(
      's',
      { subnet: '10.6.0.0/16', ipVersion: 4, ips: ['10.6.0.1-10.6.0.100'] },
      {
        status: {
          controlledIPPools: JSON.stringify({
            auto: { ips: ['10.6.0.90-10.6.0.95'], application: 'apps_v1_Deployment_default_nginx' },
          }),
        },
      },
    );
    await deniedWith(
      update(
        subnet('s', { subnet: '10.6.0.0/16', ipVersion: 4, ips: ['10.6.0.1-10.6.0.100'], excludeIPs: ['10.6.0.30'] }),
        stored,
      ),
      /leaves out 10\.6\.0\.30, which SpiderIPPool "p" holds/,
    );
    await deniedWith(
      update(subnet('s', { subnet: '10.6.0.0/16', ipVersion: 4, ips: ['10.6.0.1-10.6.0.92'] }), stored),
      /leaves out 10\.6\.0\.93-10\.6\.0\.95, which SpiderIPPool "auto" holds/,
    );
    await deniedWith(
      update(subnet('s', { subnet: '10.6.0.0/24', ipVersion: 4 }), stored),
      /spec\.subnet cannot be changed/,
    );
    const { decision } = await update(
      subnet('s', { subnet: '10.6.0.0/16', ipVersion: 4, ips: ['10.6.0.10-10.6.0.95'] }),
      stored,
    );
    assert.equal(decision.allowed, true, decision.message);
  });

  it('cannot be deleted while a pool carved from it has allocations', async () => {
    const stored = subnet('s', { subnet: '10.6.0.0/16', ipVersion: 4, ips: ['10.6.0.1-10.6.0.100'] });
    cluster.pools = [
      pool(
        'p',
        { subnet: '10.6.0.0/16', ipVersion: 4, ips: ['10.6.0.10-10.6.0.30'] },
        { allocatedIPs: JSON.stringify({ '10.6.0.10': { pod: 'ns/a', podUid: 'u' } }), allocatedIPCount: 1 },
      ),
    ];
    const denied = await validate(request('DELETE', 'SpiderSubnet', undefined, stored), cluster);
    assert.equal(denied.allowed, false);
    assert.match(denied.message ?? '', /cannot be deleted while SpiderIPPool "p" carved from it holds 1 allocated IPs/);
    cluster.pools = [pool('p', { subnet: '10.6.0.0/16', ipVersion: 4, ips: ['10.6.0.10-10.6.0.30'] })];
    assert.equal((await validate(request('DELETE', 'SpiderSubnet', undefined, stored), cluster)).allowed, true);
  });
});
