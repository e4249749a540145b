import assert from 'node:assert/strict';
import type { SpiderIPPool, SpiderSubnet } from '../../api/v2beta1/types.ts';
import { CALICO_ANNOTATION } from '../../api/v2beta1/constants.ts';
import { advertiseRequest } from './opt-in.ts';

const pool = (
  annotations: Record<string, string>,
  subnet = '10.244.0.0/16',
  extra: Partial<SpiderIPPool['metadata']> = {},
): SpiderIPPool => ({
  apiVersion: 'spiderpool.spidernet.io/v2beta1',
  kind: 'SpiderIPPool',
  metadata: { name: 'nginx-ippool-v4', annotations, ...extra },
  spec: { subnet, ips: ['10.244.100.0-10.244.200.1'] },
});
const subnet = (annotations: Record<string, string>, cidr: string): SpiderSubnet => ({
  apiVersion: 'spiderpool.spidernet.io/v2beta1',
  kind: 'SpiderSubnet',
  metadata: { name: 'subnet-6', annotations },
  spec: { subnet: cidr },
});
const on = { [CALICO_ANNOTATION.bgp]: 'true' };

describe('Calico BGP opt-in annotations', () => {
  it('only the exact value "true" opts in, and a deleting object asks for nothing', () => {
    assert.equal(advertiseRequest({ kind: 'SpiderIPPool', object: pool({}) }), undefined);
    assert.equal(
      advertiseRequest({ kind: 'SpiderIPPool', object: pool({ [CALICO_ANNOTATION.bgp]: 'yes' }) }),
      undefined,
    );
    assert.equal(
      advertiseRequest({ kind: 'SpiderIPPool', object: pool({ [CALICO_ANNOTATION.bgp]: 'True' }) }),
      undefined,
    );
    assert.equal(
      advertiseRequest({ kind: 'SpiderIPPool', object: pool(on, undefined, { deletionTimestamp: new Date() }) }),
      undefined,
    );
  });

  it('the quick-start pool asks for its subnet with the default IPv4 block size 26', () => {
    const r = advertiseRequest({ kind: 'SpiderIPPool', object: pool(on) });
    assert.equal(r?.source, 'SpiderIPPool nginx-ippool-v4');
    assert.equal(r?.cidr.canonical, '10.244.0.0/16');
    assert.equal(r?.error, undefined);
    assert.equal(r && 'blockSize' in r ? r.blockSize : undefined, 26);
  });

  it('IPv6 defaults to 122; a subnet smaller than a default block uses its own prefix', () => {
    const v6 = advertiseRequest({ kind: 'SpiderSubnet', object: subnet(on, 'fd00:10:244::/64') });
    assert.deepEqual([v6?.cidr.canonical, v6 && 'blockSize' in v6 && v6.blockSize], ['fd00:10:244::/64', 122]);
    const small = advertiseRequest({ kind: 'SpiderSubnet', object: subnet(on, '10.6.0.0/28') });
    assert.equal(small && 'blockSize' in small && small.blockSize, 28);
  });

  it('an unparsable subnet asks for nothing (no Calico pool can be named after it)', () => {
    assert.equal(advertiseRequest({ kind: 'SpiderIPPool', object: pool(on, 'not-a-cidr') }), undefined);
  });

  const bad: [value: string, subnet: string, reason: RegExp][] = [
    ['twenty-six', '10.244.0.0/16', /annotation ipam.spidernet.io\/calico-block-size "twenty-six" is not a number/],
    ['-1', '10.244.0.0/16', /is not a number/],
    ['19', '10.244.0.0/16', /is out of range: an IPv4 block size must be 20-32/],
    ['33', '10.244.0.0/16', /must be 20-32/],
    ['64', 'fd00::/48', /an IPv6 block size must be 116-128/],
    ['24', '10.6.0.0/28', /is larger than the subnet 10.6.0.0\/28/],
  ];
  for (const [value, cidr, reason] of bad) {
    it(`block size ${JSON.stringify(value)} for ${cidr} is an error naming the object and the annotation`, () => {
      const r = advertiseRequest({
        kind: 'SpiderSubnet',
        object: subnet({ ...on, [CALICO_ANNOTATION.blockSize]: value }, cidr),
      });
      assert.match(r?.error ?? '', /^SpiderSubnet subnet-6: /);
      assert.match(r?.error ?? '', reason);
    });
  }

  it('a valid block size is taken', () => {
    const r = advertiseRequest({ kind: 'SpiderIPPool', object: pool({ ...on, [CALICO_ANNOTATION.blockSize]: '24' }) });
    assert.equal(r && 'blockSize' in r && r.blockSize, 24);
  });
});
