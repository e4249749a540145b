import assert from 'node:assert/strict';
import type { SpiderReservedIP } from '../../api/v2beta1/types.ts';
import { DEFAULT_RULE_OPTIONS } from './options.ts';
import { mutateReservedIP, validateReservedIP } from './reservedip.ts';
import { FakeCluster, admit, meta } from './testing.ts';

const reserved = (spec: SpiderReservedIP['spec']): SpiderReservedIP => ({
  ...meta('r'),
  kind: 'SpiderReservedIP',
  spec,
});

describe('SpiderReservedIP webhook', () => {
  const cluster = new FakeCluster();
  const run = (r: SpiderReservedIP, old?: SpiderReservedIP, options = DEFAULT_RULE_OPTIONS) =>
    admit(
      mutateReservedIP(),
      validateReservedIP(options),
      cluster,
      old ? 'UPDATE' : 'CREATE',
      'SpiderReservedIP',
      r,
      old,
    );

  it('derives ipVersion from the first range and merges', async () => {
    const { object, decision } = await run(reserved({ ips: ['fd00::5', 'fd00::1-fd00::4'] }));
    assert.equal(decision.allowed, true, decision.message);
    assert.equal(object.spec.ipVersion, 6);
    assert.deepEqual(object.spec.ips, ['fd00::1-fd00::5']);
  });
  it('refuses an empty list without ipVersion', async () => {
    const { decision } = await run(reserved({ ips: [] }));
    assert.match(
      decision.message ?? '',
      /SpiderReservedIP "r": spec\.ipVersion is not set and could not be derived: spec\.ips is empty/,
    );
  });
  it('refuses a range of the other family', async () => {
    const { decision } = await run(reserved({ ipVersion: 4, ips: ['10.0.0.1', 'fd00::1'] }));
    assert.match(decision.message ?? '', /spec\.ips\[1\] "fd00::1" is IPv6, expected IPv4/);
  });
  it('refuses a reversed range', async () => {
    const { decision } = await run(reserved({ ips: ['10.0.0.9-10.0.0.1'] }));
    assert.match(
      (await run(reserved({ ipVersion: 4, ips: ['10.0.0.1', '10.0.0.9-10.0.0.1'] }))).decision.message ?? '',
      /spec\.ips\[1\]: "10\.0\.0\.9-10\.0\.0\.1" is not a valid IP range/,
    );
    assert.match(
      decision.message ?? '',
      /spec\.ipVersion is not set and could not be derived from spec\.ips\[0\]: "10\.0\.0\.9-10\.0\.0\.1" is not a valid IP range: start is greater than end/,
    );
  });
  it('refuses a disabled family and a change of ipVersion', async () => {
    assert.match(
      (await run(reserved({ ips: ['10.0.0.1'] }), undefined, { enableIPv4: false, enableIPv6: true })).decision
        .message ?? '',
      /IPv4 is disabled/,
    );
    assert.match(
      (await run(reserved({ ipVersion: 6, ips: ['fd00::1'] }), reserved({ ipVersion: 4, ips: ['10.0.0.1'] }))).decision
        .message ?? '',
      /spec\.ipVersion cannot be changed \(from 4 to 6\)/,
    );
  });
  it('refuses IPv4-mapped IPv6 entries as written, with their IPv4 form', async () => {
    const { object, decision } = await run(reserved({ ips: ['::ffff:10.0.0.9', '::ffff:10.0.0.1-::ffff:10.0.0.5'] }));
    assert.deepEqual(object.spec, { ips: ['::ffff:10.0.0.9', '::ffff:10.0.0.1-::ffff:10.0.0.5'] }, 'not rewritten');
    assert.equal(
      decision.message,
      'SpiderReservedIP "r": spec.ips[0] "::ffff:10.0.0.9" is an IPv4-mapped IPv6 address: write it as IPv4 (10.0.0.9), or it reserves nothing in IPv4 pools; spec.ips[1] "::ffff:10.0.0.1-::ffff:10.0.0.5" is an IPv4-mapped IPv6 address: write it as IPv4 (10.0.0.1-10.0.0.5), or it reserves nothing in IPv4 pools',
    );
  });
});
