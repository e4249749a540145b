import { Address4, Address6 } from 'ip-address';

export type Family = 4 | 6;

export class IPError extends Error {
  override name = 'IPError';
}

function bitsOf(family: Family): number {
  return family === 4 ? 32 : 128;
}

export function maxValue(family: Family): bigint {
  return (1n << BigInt(bitsOf(family))) - 1n;
}

// ip-address accepts a prefix ("/24") or zone ("%eth0") after the address; neither belongs in a bare address.
const ADDRESS_CHARS = /^[0-9a-fA-F.:]+$/;

/**
 * An IPv4 address in its one canonical spelling (no leading zeros). Pool records are keyed by such addresses and
 * every pool write reads and re-checks all of them, so this form skips ip-address's general parser, which took
 * about 5% of the agent's CPU in `bench:ipam`. Every other spelling goes to the library.
 */
const OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const CANONICAL_IPV4 = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);

export function parseIP(s: string): { family: Family; value: bigint } {
  const quad = CANONICAL_IPV4.exec(s);
  if (quad) {
    const [, a, b, c, d] = quad.map(Number) as [number, number, number, number, number];
    return { family: 4, value: BigInt(a * 2 ** 24 + b * 2 ** 16 + c * 2 ** 8 + d) };
  }
  // Built only on failure: capturing a stack on every call showed up in allocation profiles.
  const invalid = () => new IPError(`${JSON.stringify(s)} is not a valid IP address`);
  if (!ADDRESS_CHARS.test(s)) throw invalid();
  try {
    return s.includes(':')
      ? { family: 6, value: new Address6(s).bigInt() }
      : { family: 4, value: new Address4(s).bigInt() };
  } catch {
    throw invalid();
  }
}

export function formatIP(value: bigint, family: Family): string {
  if (value < 0n || value > maxValue(family)) throw new IPError(`${value} is out of range for IPv${family}`);
  if (family === 6) return Address6.fromBigInt(value).correctForm();
  const v = Number(value);
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

export interface CIDR {
  family: Family;
  prefix: number;
  start: bigint;
  end: bigint;
  /** Network address and prefix, e.g. `10.6.0.0/24` for `10.6.0.5/24`. */
  canonical: string;
  /** The input is exactly `canonical`: no host bits set and, for IPv6, already in RFC 5952 form. */
  isCanonical: boolean;
}

export function parseCIDR(s: string): CIDR {
  const invalid = (why: string) => new IPError(`${JSON.stringify(s)} is not a valid CIDR: ${why}`);
  const m = /^([^/]*)\/(0|[1-9][0-9]{0,2})$/.exec(s);
  if (!m) throw invalid('expected <address>/<prefix length>');
  const [, addr = '', bits = ''] = m;
  let ip;
  try {
    ip = parseIP(addr);
  } catch {
    throw invalid(`${JSON.stringify(addr)} is not a valid IP address`);
  }
  const prefix = Number(bits);
  const width = bitsOf(ip.family);
  if (prefix > width) throw invalid(`prefix length must be at most ${width} for IPv${ip.family}`);
  const hostMask = (1n << BigInt(width - prefix)) - 1n;
  const start = ip.value & ~hostMask;
  const canonical = `${formatIP(start, ip.family)}/${prefix}`;
  return { family: ip.family, prefix, start, end: start | hostMask, canonical, isCanonical: s === canonical };
}

// Spiderpool range strings are "a" or "a-b" with no spaces and no CIDR notation.
export function parseRange(s: string): { family: Family; start: bigint; end: bigint } {
  const invalid = (why: string) => new IPError(`${JSON.stringify(s)} is not a valid IP range: ${why}`);
  if (s.includes('/')) throw invalid('CIDR notation is not allowed, use "a" or "a-b"');
  const [a = '', b = a, ...rest] = s.split('-');
  if (rest.length > 0) throw invalid('expected "a" or "a-b"');
  const endpoint = (text: string) => {
    try {
      return parseIP(text);
    } catch (e) {
      throw invalid((e as Error).message);
    }
  };
  const first = endpoint(a);
  const last = endpoint(b);
  if (first.family !== last.family) throw invalid('start and end are of different IP families');
  if (first.value > last.value) throw invalid('start is greater than end');
  return { family: first.family, start: first.value, end: last.value };
}

// Kubernetes label values cannot contain '.', ':' or '/'.
export function cidrToLabelValue(cidr: string): string {
  return cidr.replace(/[.:/]/g, '-');
}

export function withPrefix(ip: string, cidr: string): string {
  const addr = parseIP(ip);
  const net = parseCIDR(cidr);
  if (addr.family !== net.family || addr.value < net.start || addr.value > net.end) {
    throw new IPError(`${JSON.stringify(ip)} is not inside ${JSON.stringify(cidr)}`);
  }
  return `${formatIP(addr.value, addr.family)}/${net.prefix}`;
}
