import assert from 'node:assert/strict';
import type { SpiderIPPool, SpiderSubnet } from '../../api/v2beta1/types.ts';
import { FINALIZER } from '../../api/v2beta1/constants.ts';
import { mutateIPPool, validateIPPool } from './ippool.ts';
import { DEFAULT_RULE_OPTIONS } from './options.ts';
import { FakeCluster, admit, applyPatch, meta, request } from './testing.ts';

const pool = (name: string, spec: SpiderIPPool['spec'], extra: Partial<SpiderIPPool> = {}): SpiderIPPool => ({
  ...meta(name),
  kind: 'SpiderIPPool',
  spec,
  ...extra,
});
const subnet = (name: string, spec: SpiderSubnet['spec']): SpiderSubnet => ({
  ...meta(name, { uid: `uid-${name}` }),
  kind: 'SpiderSubnet',
  spec,
});

describe('SpiderIPPool webhook', () => {
  let cluster: FakeCluster;
  const mutate = mutateIPPool();
  const validate = validateIPPool(DEFAULT_RULE_OPTIONS);
  const create = (p: SpiderIPPool) => admit(mutate, validate, cluster, 'CREATE', 'SpiderIPPool', p);
  const update = (p: SpiderIPPool, old: SpiderIPPool) =>
    admit(mutate, validate, cluster, 'UPDATE', 'SpiderIPPool', p, old);
  const denied = async (p: Promise<{ decision: { allowed: boolean; message?: string } }>, pattern: RegExp) => {
    const { decision } = await p;
    assert.equal(decision.allowed, false, 'expected a denial');
    assert.match(decision.message ?? '', pattern);
  };
  beforeEach(() => {
    cluster = new FakeCluster();
  });

  describe('mutation', () => {
    it('adds the finalizer, ipVersion, the CIDR label and merges the ranges', async () => {
      const { object, decision } = await create(
        pool('a', {
          subnet: 'fd00::/120',
          ips: ['fd00::20-fd00::30', 'fd00::10-fd00::1f', 'fd00::40'],
          excludeIPs: ['fd00::12', 'fd00::11'],
        }),
      );
      assert.equal(decision.allowed, true, decision.message);
      assert.deepEqual(object.metadata.finalizers, [FINALIZER]);
      assert.equal(object.spec.ipVersion, 6);
      assert.equal(object.metadata.labels?.['ipam.spidernet.io/ippool-cidr'], 'fd00---120');
      assert.deepEqual(object.spec.ips, ['fd00::10-fd00::30', 'fd00::40']);
      assert.deepEqual(object.spec.excludeIPs, ['fd00::11-fd00::12']);
    });

    it('keeps existing finalizers and labels and patches nothing twice', async () => {
      const first = await create(
        pool(
          'a',
          { subnet: '10.6.0.0/24', ips: ['10.6.0.10'] },
          { metadata: { name: 'a', finalizers: ['other'], labels: { app: 'x' } } },
        ),
      );
      assert.deepEqual(first.object.metadata.finalizers, ['other', FINALIZER]);
      assert.equal(first.object.metadata.labels?.app, 'x');
      const again = await mutate(request('UPDATE', 'SpiderIPPool', first.object, first.object), cluster);
      assert.equal(again.patch, undefined);
    });

    it('leaves unparsable ranges for validation to name', async () => {
      const m = await mutate(
        request('CREATE', 'SpiderIPPool', pool('a', { subnet: '10.6.0.0/24', ips: ['10.6.0.9', 'nonsense'] })),
        cluster,
      );
      const patched = applyPatch(pool('a', { subnet: '10.6.0.0/24', ips: ['10.6.0.9', 'nonsense'] }), m.patch ?? []);
      assert.deepEqual(patched.spec.ips, ['10.6.0.9', 'nonsense']);
    });

    it('is carved from the SpiderSubnet of the same subnet and inherits its gateway and routes', async () => {
      cluster.subnets = [
        subnet('s', {
          subnet: '10.6.0.0/16',
          ips: ['10.6.0.1-10.6.0.200'],
          gateway: '10.6.0.1',
          routes: [{ dst: '10.7.0.0/16', gw: '10.6.0.254' }],
        }),
      ];
      const { object, decision } = await create(pool('a', { subnet: '10.6.0.0/16', ips: ['10.6.0.10-10.6.0.20'] }));
      assert.equal(decision.allowed, true, decision.message);
      assert.equal(object.spec.gateway, '10.6.0.1');
      assert.deepEqual(object.spec.routes, [{ dst: '10.7.0.0/16', gw: '10.6.0.254' }]);
      assert.equal(object.metadata.labels?.['ipam.spidernet.io/owner-spider-subnet'], 's');
      assert.deepEqual(
        object.metadata.ownerReferences?.map((r) => [r.kind, r.name, r.uid, r.controller]),
        [['SpiderSubnet', 's', 'uid-s', true]],
      );
    });

    it('does not inherit routes when the pool has an explicit empty list', async () => {
      cluster.subnets = [
        subnet('s', {
          subnet: '10.6.0.0/16',
          ips: ['10.6.0.1-10.6.0.200'],
          routes: [{ dst: '10.7.0.0/16', gw: '10.6.0.254' }],
        }),
      ];
      const { object } = await create(pool('a', { subnet: '10.6.0.0/16', routes: [] }));
      assert.deepEqual(object.spec.routes, []);
    });

    it('does nothing to a terminating pool', async () => {
      const p = pool(
        'a',
        { subnet: '10.6.0.0/24', ips: ['10.6.0.2', '10.6.0.1'] },
        { metadata: { name: 'a', deletionTimestamp: new Date() } },
      );
      assert.deepEqual(await mutate(request('UPDATE', 'SpiderIPPool', p, p), cluster), { allowed: true });
    });
  });

  describe('validation of the pool itself', () => {
    it('accepts a valid pool', async () => {
      const { decision } = await create(
        pool('a', {
          subnet: '10.6.0.0/16',
          gateway: '10.6.0.1',
          ips: ['10.6.212.100-10.6.212.200'],
          routes: [{ dst: '10.7.0.0/16', gw: '10.6.0.254' }],
        }),
      );
      assert.deepEqual(decision, { allowed: true });
    });
    it('refuses a subnet that is not a CIDR', () =>
      denied(
        create(pool('a', { subnet: '10.6.0.0' })),
        /^SpiderIPPool "a": spec\.subnet: "10\.6\.0\.0" is not a valid CIDR/,
      ));
    it('refuses a subnet with host bits', () =>
      denied(
        create(pool('a', { subnet: '10.6.1.0/16' })),
        /spec\.subnet "10\.6\.1\.0\/16" is not in canonical form, use "10\.6\.0\.0\/16"/,
      ));
    it('refuses an ipVersion that contradicts the subnet', () =>
      denied(
        create(pool('a', { subnet: '10.6.0.0/24', ipVersion: 6 })),
        /spec\.ipVersion 6 does not match spec\.subnet 10\.6\.0\.0\/24/,
      ));
    it('refuses a disabled family', async () => {
      const { decision } = await admit(
        mutate,
        validateIPPool({ enableIPv4: true, enableIPv6: false }),
        cluster,
        'CREATE',
        'SpiderIPPool',
        pool('a', { subnet: 'fd00::/64' }),
      );
      assert.match(decision.message ?? '', /IPv6 is disabled/);
    });
    it('refuses ips outside the subnet', () =>
      denied(
        create(pool('pool-a', { subnet: '10.6.0.0/16', ips: ['10.6.0.1', '10.7.0.5-10.7.0.9'] })),
        /SpiderIPPool "pool-a": spec\.ips\[1\] "10\.7\.0\.5-10\.7\.0\.9" is outside spec\.subnet 10\.6\.0\.0\/16/,
      ));
    it('refuses a malformed range', () =>
      denied(
        create(pool('a', { subnet: '10.6.0.0/24', ips: ['10.6.0.9-10.6.0.1'] })),
        /spec\.ips\[0\]: .*start is greater than end/,
      ));
    it('refuses ranges of the other family', () =>
      denied(
        create(pool('a', { subnet: '10.6.0.0/24', excludeIPs: ['fd00::1'] })),
        /spec\.excludeIPs\[0\] "fd00::1" is IPv6, expected IPv4/,
      ));
    it('refuses overlapping entries when mutation was bypassed', async () => {
      const decision = await validate(
        request(
          'CREATE',
          'SpiderIPPool',
          pool('a', { subnet: '10.6.0.0/24', ipVersion: 4, ips: ['10.6.0.1-10.6.0.9', '10.6.0.5'] }),
        ),
        cluster,
      );
      assert.match(
        decision.message ?? '',
        /spec\.ips\[1\] "10\.6\.0\.5" overlaps spec\.ips\[0\] "10\.6\.0\.1-10\.6\.0\.9"/,
      );
    });
    it('refuses a gateway outside the subnet', () =>
      denied(
        create(pool('a', { subnet: '10.6.0.0/24', gateway: '10.6.1.1' })),
        /spec\.gateway "10\.6\.1\.1" is outside spec\.subnet 10\.6\.0\.0\/24/,
      ));
    it('refuses a gateway that would be handed out', () =>
      denied(
        create(pool('a', { subnet: '10.6.0.0/24', gateway: '10.6.0.1', ips: ['10.6.0.1-10.6.0.9'] })),
        /spec\.ips\[0\] "10\.6\.0\.1-10\.6\.0\.9" contains spec\.gateway 10\.6\.0\.1/,
      ));
    it('accepts a gateway inside ips when it is excluded', async () => {
      const { decision } = await create(
        pool('a', { subnet: '10.6.0.0/24', gateway: '10.6.0.1', ips: ['10.6.0.1-10.6.0.9'], excludeIPs: ['10.6.0.1'] }),
      );
      assert.equal(decision.allowed, true, decision.message);
    });
    it('refuses a default route', () =>
      denied(
        create(pool('a', { subnet: '10.6.0.0/24', routes: [{ dst: '0.0.0.0/0', gw: '10.6.0.1' }] })),
        /spec\.routes\[0\]\.dst "0\.0\.0\.0\/0" is the default route: set spec\.gateway instead/,
      ));
    it('refuses duplicate route destinations', () =>
      denied(
        create(
          pool('a', {
            subnet: '10.6.0.0/24',
            routes: [
              { dst: '10.7.0.0/16', gw: '10.6.0.1' },
              { dst: '10.7.0.0/16', gw: '10.6.0.2' },
            ],
          }),
        ),
        /spec\.routes\[1\]\.dst "10\.7\.0\.0\/16" duplicates spec\.routes\[0\]\.dst/,
      ));
    it('refuses a route via a gateway outside the subnet', () =>
      denied(
        create(pool('a', { subnet: '10.6.0.0/24', routes: [{ dst: '10.7.0.0/16', gw: '10.8.0.1' }] })),
        /spec\.routes\[0\]\.gw "10\.8\.0\.1" is outside spec\.subnet/,
      ));
    it('refuses a route of the other family', () =>
      denied(
        create(pool('a', { subnet: '10.6.0.0/24', routes: [{ dst: 'fd00::/64', gw: '10.6.0.1' }] })),
        /spec\.routes\[0\]\.dst "fd00::\/64" is IPv6/,
      ));
    it('refuses an empty podAffinity', () =>
      denied(create(pool('a', { subnet: '10.6.0.0/24', podAffinity: {} })), /spec\.podAffinity is empty/));
    it('refuses an invalid label value in a selector', () =>
      denied(
        create(pool('a', { subnet: '10.6.0.0/24', nodeAffinity: { matchLabels: { zone: 'a b' } } })),
        /spec\.nodeAffinity\.matchLabels\["zone"\] "a b" is not a valid label value/,
      ));
    it('refuses In without values', () =>
      denied(
        create(
          pool('a', { subnet: '10.6.0.0/24', podAffinity: { matchExpressions: [{ key: 'app', operator: 'In' }] } }),
        ),
        /spec\.podAffinity: operator In on key "app" needs at least one value/,
      ));
    it('refuses extra podAffinity on an auto-created pool', async () => {
      const auto = pool(
        'auto',
        { subnet: '10.6.0.0/24', podAffinity: { matchLabels: { 'ipam.spidernet.io/app-name': 'nginx', team: 'x' } } },
        { metadata: { name: 'auto', labels: { 'ipam.spidernet.io/owner-application-name': 'nginx' } } },
      );
      await denied(create(auto), /spec\.podAffinity\.matchLabels \["team"\]: an auto-created pool only carries/);
    });
  });

  describe('validation against other objects', () => {
    beforeEach(() => {
      cluster.pools = [
        pool('pool-b', {
          subnet: '10.6.0.0/16',
          ipVersion: 4,
          ips: ['10.6.0.10-10.6.0.20'],
          excludeIPs: ['10.6.0.15'],
        }),
      ];
    });
    it('refuses shared addresses with a pool of the same subnet, naming it', () =>
      denied(
        create(pool('pool-a', { subnet: '10.6.0.0/16', ips: ['10.6.0.1-10.6.0.5', '10.6.0.14-10.6.0.16'] })),
        /spec\.ips\[1\] "10\.6\.0\.14-10\.6\.0\.16" overlaps spec\.ips of SpiderIPPool "pool-b" at 10\.6\.0\.14, 10\.6\.0\.16/,
      ));
    it("accepts the other pool's excluded addresses", async () => {
      const { decision } = await create(pool('pool-a', { subnet: '10.6.0.0/16', ips: ['10.6.0.15', '10.6.0.21'] }));
      assert.equal(decision.allowed, true, decision.message);
    });
    it("refuses a different subnet that overlaps another pool's", () =>
      denied(
        create(pool('pool-a', { subnet: '10.6.1.0/24' })),
        /spec\.subnet 10\.6\.1\.0\/24 overlaps spec\.subnet 10\.6\.0\.0\/16 of SpiderIPPool "pool-b"/,
      ));
    it('refuses addresses outside the SpiderSubnet it is carved from', async () => {
      cluster.subnets = [subnet('s', { subnet: '10.6.0.0/16', ips: ['10.6.0.1-10.6.0.100'] })];
      await denied(
        create(pool('pool-a', { subnet: '10.6.0.0/16', ips: ['10.6.0.90-10.6.0.110'] })),
        /spec\.ips 10\.6\.0\.101-10\.6\.0\.110 is outside the addresses of SpiderSubnet "s"/,
      );
    });
    it('refuses a pool inside a SpiderSubnet with a different subnet string', async () => {
      cluster.pools = [];
      cluster.subnets = [subnet('s', { subnet: '10.6.0.0/16', ips: ['10.6.0.1-10.6.0.100'] })];
      await denied(
        create(pool('pool-a', { subnet: '10.6.0.0/24' })),
        /overlaps spec\.subnet 10\.6\.0\.0\/16 of SpiderSubnet "s": a pool inside a SpiderSubnet must use the same spec\.subnet/,
      );
    });
  });

  describe('updates and deletion', () => {
    const stored = (): SpiderIPPool =>
      pool(
        'a',
        { subnet: '10.6.0.0/24', ipVersion: 4, ips: ['10.6.0.10-10.6.0.20'] },
        {
          metadata: { name: 'a', finalizers: [FINALIZER] },
          status: {
            allocatedIPs: JSON.stringify({ '10.6.0.12': { pod: 'default/nginx-1', podUid: 'u1' } }),
            allocatedIPCount: 1,
          },
        },
      );
    it('refuses a change of subnet or ipVersion', () =>
      denied(
        update(pool('a', { subnet: '10.6.1.0/24', ipVersion: 4 }), stored()),
        /spec\.subnet cannot be changed \(from "10\.6\.0\.0\/24" to "10\.6\.1\.0\/24"\)/,
      ));
    it('refuses to drop an allocated address, naming it and the pod', () =>
      denied(
        update(pool('a', { subnet: '10.6.0.0/24', ipVersion: 4, ips: ['10.6.0.13-10.6.0.20'] }), stored()),
        /spec\.ips leaves out 10\.6\.0\.12, which is allocated to Pod default\/nginx-1/,
      ));
    it('refuses to exclude an allocated address', () =>
      denied(
        update(
          pool('a', { subnet: '10.6.0.0/24', ipVersion: 4, ips: ['10.6.0.10-10.6.0.20'], excludeIPs: ['10.6.0.12'] }),
          stored(),
        ),
        /spec\.excludeIPs leaves out 10\.6\.0\.12/,
      ));
    it('accepts growing and shrinking around allocated addresses', async () => {
      const { decision } = await update(
        pool('a', { subnet: '10.6.0.0/24', ipVersion: 4, ips: ['10.6.0.12-10.6.0.40'] }),
        stored(),
      );
      assert.equal(decision.allowed, true, decision.message);
    });
    it('refuses deleting a pool with allocations, with the count', async () => {
      const decision = await validate(request('DELETE', 'SpiderIPPool', undefined, stored()), cluster);
      assert.equal(decision.allowed, false);
      assert.match(
        decision.message ?? '',
        /SpiderIPPool "a": cannot be deleted while status\.allocatedIPs holds 1 allocated IPs \(10\.6\.0\.12 is allocated to Pod default\/nginx-1\): delete the pods/,
      );
    });
    it('accepts deleting an unused pool', async () => {
      const unused = { ...stored(), status: {} };
      assert.equal((await validate(request('DELETE', 'SpiderIPPool', undefined, unused), cluster)).allowed, true);
    });
    it('lets a terminating pool lose its finalizer but not change its spec', async () => {
      const terminating = { ...stored(), metadata: { ...stored().metadata, deletionTimestamp: new Date() } };
      const released = { ...terminating, metadata: { ...terminating.metadata, finalizers: [] } };
      assert.equal((await update(released, terminating)).decision.allowed, true);
      await denied(
        update({ ...released, spec: { ...released.spec, ips: ['10.6.0.10-10.6.0.30'] } }, terminating),
        /spec cannot change while the object is being deleted/,
      );
    });
  });

  describe('ownership by a SpiderSubnet', () => {
    const owned = (name: string, uid: string, ips: string[]) =>
      pool(
        'a',
        { subnet: '10.6.0.0/24', ips },
        {
          metadata: {
            name: 'a',
            ownerReferences: [
              { apiVersion: 'spiderpool.spidernet.io/v2beta1', kind: 'SpiderSubnet', name, uid, controller: true },
            ],
          },
        },
      );
    it('refuses an owner that does not exist, on create and on update', async () => {
      await denied(
        create(owned('gone', 'uid-gone', ['10.6.0.10'])),
        /SpiderIPPool "a": metadata\.ownerReferences\[0\] names SpiderSubnet "gone", which does not exist/,
      );
      const plain = pool('a', { subnet: '10.6.0.0/24', ipVersion: 4, ips: ['10.6.0.10'] });
      await denied(
        update(owned('gone', 'uid-gone', ['10.6.0.10']), plain),
        /names SpiderSubnet "gone", which does not exist/,
      );
    });
    it('refuses an owner of another uid or another subnet', async () => {
      cluster.subnets = [
        subnet('s', { subnet: '10.6.0.0/24', ipVersion: 4 }),
        subnet('t', { subnet: '10.7.0.0/24', ipVersion: 4 }),
      ];
      await denied(
        create(owned('s', 'uid-old', ['10.6.0.10'])),
        /names SpiderSubnet "s" with uid uid-old, but its uid is uid-s/,
      );
      await denied(
        create(owned('t', 'uid-t', ['10.6.0.10'])),
        /names SpiderSubnet "t", whose spec\.subnet 10\.7\.0\.0\/24 is not the pool's 10\.6\.0\.0\/24/,
      );
    });

    describe('an auto-created pool', () => {
      const auto = (ips: string[]) => {
        const p = owned('s', 'uid-s', ips);
        p.metadata.labels = { 'ipam.spidernet.io/owner-application-name': 'nginx' };
        return p;
      };
      const stored = (ips: string[]) => ({ ...auto(ips), spec: { subnet: '10.6.0.0/24', ipVersion: 4 as const, ips } });
      beforeEach(() => {
        cluster.subnets = [
          {
            ...subnet('s', { subnet: '10.6.0.0/24', ipVersion: 4, ips: ['10.6.0.1-10.6.0.100'] }),
            status: { controlledIPPools: JSON.stringify({ a: { ips: ['10.6.0.10-10.6.0.13'], application: 'x' } }) },
          },
        ];
      });
      it('is created and grows with what the ledger records for it', async () => {
        const { decision } = await create(auto(['10.6.0.10-10.6.0.13']));
        assert.equal(decision.allowed, true, decision.message);
        const grown = await update(auto(['10.6.0.10-10.6.0.13']), stored(['10.6.0.10-10.6.0.11']));
        assert.equal(grown.decision.allowed, true, grown.decision.message);
      });
      it('may lose addresses the ledger still records, as the controller shrinks it', async () => {
        const { decision } = await update(auto(['10.6.0.10-10.6.0.11']), stored(['10.6.0.10-10.6.0.13']));
        assert.equal(decision.allowed, true, decision.message);
      });
      it('refuses addresses the ledger does not record for it', async () => {
        await denied(
          update(auto(['10.6.0.10-10.6.0.14']), stored(['10.6.0.10-10.6.0.13'])),
          /spec\.ips 10\.6\.0\.14 are not what SpiderSubnet "s" records for this auto-created pool in status\.controlledIPPools \(10\.6\.0\.10-10\.6\.0\.13\)/,
        );
        await denied(create(auto(['10.6.0.20'])), /spec\.ips 10\.6\.0\.20 are not what SpiderSubnet "s" records/);
      });
    });
  });
});
