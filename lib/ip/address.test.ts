import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Address4 } from 'ip-address';
import { IPError, cidrToLabelValue, formatIP, parseCIDR, parseIP, parseRange, withPrefix } from './address.ts';

const throwsIP = (fn: () => unknown, message: string) => assert.throws(fn, { name: 'IPError', message });

describe('parseIP / formatIP', () => {
  it('throws IPError, an Error subclass', () => {
    assert.throws(
      () => parseIP('x'),
      (e: unknown) => e instanceof IPError && e instanceof Error,
    );
  });

  it('parses IPv4 and IPv6 into family and value', () => {
    assert.deepEqual(parseIP('10.0.0.1'), { family: 4, value: 0x0a000001n });
    assert.deepEqual(parseIP('0.0.0.0'), { family: 4, value: 0n });
    assert.deepEqual(parseIP('255.255.255.255'), { family: 4, value: 0xffffffffn });
    assert.deepEqual(parseIP('::'), { family: 6, value: 0n });
    assert.deepEqual(parseIP('fd00::1'), { family: 6, value: (0xfd00n << 112n) | 1n });
    assert.deepEqual(parseIP('FD00:0:0:0:0:0:0:1'), parseIP('fd00::1'));
  });

  it('reads and writes every IPv4 address as ip-address does, its own spelling and any other', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), (n) => {
        const value = BigInt(n);
        const text = Address4.fromBigInt(value).correctForm();
        assert.equal(formatIP(value, 4), text);
        assert.deepEqual(parseIP(text), { family: 4, value });
      }),
      { numRuns: 20_000 },
    );
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[0-9]{1,4}$/), { minLength: 3, maxLength: 5 }), (parts) => {
        const text = parts.join('.');
        let expected: bigint | undefined;
        try {
          expected = new Address4(text).bigInt();
        } catch {
          expected = undefined;
        }
        if (expected === undefined) assert.throws(() => parseIP(text), IPError);
        else assert.deepEqual(parseIP(text), { family: 4, value: expected });
      }),
      { numRuns: 20_000 },
    );
  });

  it('formats canonically (IPv6 compressed, lower-case)', () => {
    assert.equal(formatIP(0x0a000001n, 4), '10.0.0.1');
    assert.equal(formatIP(parseIP('FD00:0010:0000:0000:0000:0000:0000:0001').value, 6), 'fd00:10::1');
    assert.equal(formatIP(parseIP('2001:db8:0:0:1:0:0:1').value, 6), '2001:db8::1:0:0:1');
    assert.equal(formatIP(0n, 6), '::');
    assert.equal(formatIP((1n << 128n) - 1n, 6), 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff');
  });

  it('rejects junk with a message naming the input', () => {
    for (const bad of [
      '10.0.0.300',
      '010.0.0.1',
      '10.0.0',
      '10.0.0.1.',
      ' 10.0.0.1',
      '10.0.0.1 ',
      '',
      'abc',
      '1::2::3',
      '1:2:3:4:5:6:7:8:9',
      '10.0.0.1/32',
      'fe80::1%eth0',
      '[::1]',
    ]) {
      throwsIP(() => parseIP(bad), `${JSON.stringify(bad)} is not a valid IP address`);
    }
    throwsIP(() => parseIP('10.0.0.300'), '"10.0.0.300" is not a valid IP address');
  });

  it('formatIP rejects values outside the family', () => {
    throwsIP(() => formatIP(1n << 32n, 4), '4294967296 is out of range for IPv4');
    throwsIP(() => formatIP(-1n, 6), '-1 is out of range for IPv6');
  });
});

describe('parseCIDR', () => {
  it('gives the first and last address and the network form', () => {
    assert.deepEqual(parseCIDR('172.18.0.0/16'), {
      family: 4,
      prefix: 16,
      start: 0xac120000n,
      end: 0xac12ffffn,
      canonical: '172.18.0.0/16',
      isCanonical: true,
    });
    const v6 = parseCIDR('fd00:10::/64');
    assert.equal(v6.family, 6);
    assert.equal(v6.end - v6.start + 1n, 1n << 64n);
    assert.equal(formatIP(v6.end, 6), 'fd00:10::ffff:ffff:ffff:ffff');
    assert.equal(v6.isCanonical, true);
  });

  it('handles /0 and host-length prefixes', () => {
    assert.deepEqual(parseCIDR('::/0'), {
      family: 6,
      prefix: 0,
      start: 0n,
      end: (1n << 128n) - 1n,
      canonical: '::/0',
      isCanonical: true,
    });
    const host = parseCIDR('10.0.0.7/32');
    assert.equal(host.start, host.end);
    assert.equal(parseCIDR('fd00::1/128').canonical, 'fd00::1/128');
  });

  it('masks host bits and reports non-canonical input', () => {
    const c = parseCIDR('10.6.0.5/24');
    assert.equal(c.canonical, '10.6.0.0/24');
    assert.equal(c.isCanonical, false);
    assert.equal(formatIP(c.start, 4), '10.6.0.0');
    assert.equal(formatIP(c.end, 4), '10.6.0.255');
    assert.equal(parseCIDR('FD00:10::/64').canonical, 'fd00:10::/64');
    assert.equal(parseCIDR('FD00:10::/64').isCanonical, false);
  });

  it('rejects junk with a message naming the input', () => {
    const shape = 'expected <address>/<prefix length>';
    throwsIP(() => parseCIDR('10.0.0.0'), `"10.0.0.0" is not a valid CIDR: ${shape}`);
    throwsIP(() => parseCIDR('10.0.0.0/'), `"10.0.0.0/" is not a valid CIDR: ${shape}`);
    throwsIP(() => parseCIDR('10.0.0.0/024'), `"10.0.0.0/024" is not a valid CIDR: ${shape}`);
    throwsIP(() => parseCIDR('10.0.0.0/+8'), `"10.0.0.0/+8" is not a valid CIDR: ${shape}`);
    throwsIP(() => parseCIDR('10.0.0.0/8/8'), `"10.0.0.0/8/8" is not a valid CIDR: ${shape}`);
    throwsIP(
      () => parseCIDR(' 10.0.0.0/8'),
      `" 10.0.0.0/8" is not a valid CIDR: " 10.0.0.0" is not a valid IP address`,
    );
    throwsIP(
      () => parseCIDR('10.0.0.256/8'),
      `"10.0.0.256/8" is not a valid CIDR: "10.0.0.256" is not a valid IP address`,
    );
    throwsIP(
      () => parseCIDR('10.0.0.0/33'),
      '"10.0.0.0/33" is not a valid CIDR: prefix length must be at most 32 for IPv4',
    );
    throwsIP(
      () => parseCIDR('fd00::/129'),
      '"fd00::/129" is not a valid CIDR: prefix length must be at most 128 for IPv6',
    );
  });
});

describe('parseRange', () => {
  it('parses a single address and an a-b range', () => {
    assert.deepEqual(parseRange('10.0.0.1'), { family: 4, start: 0x0a000001n, end: 0x0a000001n });
    assert.deepEqual(parseRange('10.0.0.1-10.0.0.9'), { family: 4, start: 0x0a000001n, end: 0x0a000009n });
    assert.deepEqual(parseRange('10.0.0.1-10.0.0.1'), { family: 4, start: 0x0a000001n, end: 0x0a000001n });
    assert.deepEqual(parseRange('fd00::1-fd00::ff'), {
      family: 6,
      start: parseIP('fd00::1').value,
      end: parseIP('fd00::ff').value,
    });
  });

  it('rejects every malformed range with a message naming it', () => {
    const cases: [string, string][] = [
      ['10.0.0.0/24', 'CIDR notation is not allowed, use "a" or "a-b"'],
      ['10.0.0.1-10.0.0.9/24', 'CIDR notation is not allowed, use "a" or "a-b"'],
      ['10.0.0.1-fd00::1', 'start and end are of different IP families'],
      ['10.0.0.9-10.0.0.1', 'start is greater than end'],
      ['fd00::9-fd00::1', 'start is greater than end'],
      ['10.0.0.1-10.0.0.2-10.0.0.3', 'expected "a" or "a-b"'],
      ['10.0.0.1--10.0.0.2', 'expected "a" or "a-b"'],
      ['10.0.0.1 - 10.0.0.9', '"10.0.0.1 " is not a valid IP address'],
      ['10.0.0.1-', '"" is not a valid IP address'],
      ['-10.0.0.1', '"" is not a valid IP address'],
      ['', '"" is not a valid IP address'],
      ['10.0.0.1-junk', '"junk" is not a valid IP address'],
    ];
    for (const [input, why] of cases)
      throwsIP(() => parseRange(input), `${JSON.stringify(input)} is not a valid IP range: ${why}`);
  });
});

describe('cidrToLabelValue / withPrefix', () => {
  it('turns a CIDR into a label value as given', () => {
    assert.equal(cidrToLabelValue('172.18.0.0/16'), '172-18-0-0-16');
    assert.equal(cidrToLabelValue('fd00:10::/64'), 'fd00-10---64');
  });

  it('appends the subnet prefix length to an address inside it', () => {
    assert.equal(withPrefix('10.6.212.145', '10.6.0.0/16'), '10.6.212.145/16');
    assert.equal(withPrefix('FD00:10::0001', 'fd00:10::/64'), 'fd00:10::1/64');
  });

  it('rejects an address outside the subnet or of the other family', () => {
    throwsIP(() => withPrefix('10.7.0.1', '10.6.0.0/16'), '"10.7.0.1" is not inside "10.6.0.0/16"');
    throwsIP(() => withPrefix('fd00::1', '10.6.0.0/16'), '"fd00::1" is not inside "10.6.0.0/16"');
    throwsIP(() => withPrefix('10.6.0.300', '10.6.0.0/16'), '"10.6.0.300" is not a valid IP address');
  });
});
