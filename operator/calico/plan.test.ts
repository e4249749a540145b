import assert from 'node:assert/strict';
import { parseCIDR } from '../../lib/ip/index.ts';
import { MANAGED_BY, MANAGED_BY_LABEL, calicoPoolName, type CalicoIPPool } from './calico-ippool.ts';
import type { AdvertiseRequest } from './opt-in.ts';
import { planCalicoPool } from './plan.ts';

const NAME = 'spiderpool-10-244-0-0-16';
const want = (source: string, blockSize = 26, cidr = '10.244.0.0/16'): AdvertiseRequest => ({
  source,
  cidr: parseCIDR(cidr),
  blockSize,
});
const calico = (
  name: string,
  spec: CalicoIPPool['spec'],
  owned: boolean,
  extra: Partial<NonNullable<CalicoIPPool['metadata']>> = {},
): CalicoIPPool => ({
  apiVersion: 'crd.projectcalico.org/v1',
  kind: 'IPPool',
  metadata: {
    name,
    uid: `uid-${name}`,
    resourceVersion: '7',
    ...(owned ? { labels: { [MANAGED_BY_LABEL]: MANAGED_BY } } : {}),
    ...extra,
  },
  spec,
});
const quickStart = {
  cidr: '10.244.0.0/16',
  blockSize: 26,
  ipipMode: 'Never',
  vxlanMode: 'Never',
  natOutgoing: false,
  nodeSelector: 'all()',
};

describe('Calico IPPool plan', () => {
  it('names pools from the canonical CIDR', () => {
    assert.equal(calicoPoolName('10.244.0.0/16'), NAME);
    assert.equal(calicoPoolName('10.244.1.2/16'), NAME);
    assert.equal(calicoPoolName('FD00:0::/64'), 'spiderpool-fd00---64');
  });

  it('creates the quick-start pool, labelled as ours, when a subnet asks and none exists', () => {
    const plan = planCalicoPool(NAME, [want('SpiderIPPool nginx-ippool-v4')], []);
    assert.deepEqual(plan, {
      action: 'create',
      pool: {
        apiVersion: 'crd.projectcalico.org/v1',
        kind: 'IPPool',
        metadata: { name: NAME, labels: { [MANAGED_BY_LABEL]: MANAGED_BY } },
        spec: quickStart,
      },
    });
  });

  it('does nothing when our pool already matches, and keeps fields Calico added', () => {
    assert.deepEqual(
      planCalicoPool(
        NAME,
        [want('SpiderIPPool a')],
        [calico(NAME, { ...quickStart, allowedUses: ['Workload'] }, true)],
      ),
      { action: 'none' },
    );
  });

  it('fixes changed fields with the cached resourceVersion, keeping other fields', () => {
    const plan = planCalicoPool(
      NAME,
      [want('SpiderIPPool a', 24)],
      [calico(NAME, { ...quickStart, ipipMode: 'Always', natOutgoing: true, allowedUses: ['Workload'] }, true)],
    );
    assert.equal(plan.action, 'update');
    assert.ok(plan.action === 'update');
    assert.equal(plan.pool.metadata?.resourceVersion, '7');
    assert.deepEqual(plan.pool.spec, { ...quickStart, blockSize: 24, allowedUses: ['Workload'] });
  });

  it('deletes our pool once nothing asks for it, and only ours', () => {
    const ours = calico(NAME, quickStart, true);
    assert.deepEqual(planCalicoPool(NAME, [], [ours]), { action: 'delete', pool: ours });
    assert.deepEqual(planCalicoPool(NAME, [], [calico(NAME, quickStart, false)]), { action: 'none' });
    assert.deepEqual(planCalicoPool(NAME, [], [calico(NAME, quickStart, true, { deletionTimestamp: new Date() })]), {
      action: 'none',
    });
    assert.deepEqual(planCalicoPool(NAME, [], []), { action: 'none' });
  });

  it('leaves a foreign pool with our name alone and says so', () => {
    const plan = planCalicoPool(
      NAME,
      [want('SpiderIPPool a')],
      [calico(NAME, { cidr: '10.244.0.0/16', ipipMode: 'Always' }, false)],
    );
    assert.equal(plan.action, 'none');
    assert.match(
      'note' in plan ? (plan.note ?? '') : '',
      /Calico IPPool spiderpool-10-244-0-0-16 exists without label app.kubernetes.io\/managed-by=spiderpool-ts/,
    );
  });

  it('a foreign pool with the same CIDR (the quick start done by hand) is left alone; ours is not created', () => {
    const plan = planCalicoPool(
      NAME,
      [want('SpiderIPPool nginx-ippool-v4')],
      [calico('spiderpool-ippool', quickStart, false)],
    );
    assert.equal(plan.action, 'none');
    assert.match(
      'note' in plan ? (plan.note ?? '') : '',
      /Calico IPPool spiderpool-ippool \(cidr 10.244.0.0\/16\) is not managed by spiderpool-ts and covers 10.244.0.0\/16 \(SpiderIPPool nginx-ippool-v4\)/,
    );
  });

  it('a foreign pool overlapping the CIDR makes our existing pool a duplicate, which is removed', () => {
    const ours = calico(NAME, quickStart, true);
    const plan = planCalicoPool(
      NAME,
      [want('SpiderIPPool a')],
      [ours, calico('default-ipv4-ippool', { cidr: '10.244.128.0/17' }, false)],
    );
    assert.equal(plan.action, 'delete');
    assert.match(
      'note' in plan ? (plan.note ?? '') : '',
      /default-ipv4-ippool .* and the duplicate spiderpool-10-244-0-0-16 is removed/,
    );
  });

  it('foreign pools that do not overlap, are being deleted or have no valid CIDR do not block', () => {
    const others = [
      calico('default-ipv4-ippool', { cidr: '10.233.64.0/18' }, false),
      calico('v6', { cidr: 'fd00::/8' }, false),
      calico('old', { cidr: '10.244.0.0/16' }, false, { deletionTimestamp: new Date() }),
      calico('broken', { cidr: 'nonsense' }, false),
    ];
    assert.equal(planCalicoPool(NAME, [want('SpiderIPPool a')], others).action, 'create');
  });

  it('an invalid request for the CIDR freezes our pool instead of deleting it', () => {
    const bad: AdvertiseRequest = {
      source: 'SpiderIPPool a',
      cidr: parseCIDR('10.244.0.0/16'),
      error: 'SpiderIPPool a: annotation ipam.spidernet.io/calico-block-size "x" is not a number',
    };
    const plan = planCalicoPool(NAME, [bad], [calico(NAME, quickStart, true)]);
    assert.equal(plan.action, 'none');
    assert.match(
      'note' in plan ? (plan.note ?? '') : '',
      /"x" is not a number; Calico IPPool spiderpool-10-244-0-0-16 is left unchanged/,
    );
  });

  it('conflicting block sizes for one CIDR are reported and change nothing', () => {
    const plan = planCalicoPool(NAME, [want('SpiderIPPool a', 26), want('SpiderSubnet s', 24)], []);
    assert.equal(plan.action, 'none');
    assert.match(
      'note' in plan ? (plan.note ?? '') : '',
      /conflicting Calico block sizes for 10.244.0.0\/16: SpiderIPPool a asks 26, SpiderSubnet s asks 24/,
    );
  });

  it('a pool and a subnet of the same CIDR share one Calico pool', () => {
    assert.equal(planCalicoPool(NAME, [want('SpiderIPPool a'), want('SpiderSubnet s')], []).action, 'create');
  });

  it('waits while our pool is being deleted', () => {
    assert.deepEqual(
      planCalicoPool(
        NAME,
        [want('SpiderIPPool a')],
        [calico(NAME, quickStart, true, { deletionTimestamp: new Date() })],
      ),
      { action: 'none' },
    );
  });
});
