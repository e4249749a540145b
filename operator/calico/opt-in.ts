// Which Spiderpool subnets are to be advertised by Calico BGP.
//
// Opt-in is per object, by annotation, so Spiderpool manifests stay valid and unchanged otherwise:
//   ipam.spidernet.io/calico-bgp: "true"          on a SpiderIPPool or a SpiderSubnet: advertise its
//                                                  spec.subnet (only the exact value "true" opts in)
//   ipam.spidernet.io/calico-block-size: "26"     optional Calico blockSize (IPv4 20-32, IPv6 116-128;
//                                                  default 26 / 122, or the subnet's own prefix when
//                                                  the subnet is smaller than one default block)
// This automates the Calico quick-start step of creating, by hand, a Calico IPPool whose cidr is the
// Spiderpool subnet, so that Calico announces the subnet's routes to its BGP peers.
import { CALICO_ANNOTATION } from '../../api/v2beta1/constants.ts';
import type { SpiderIPPool, SpiderSubnet } from '../../api/v2beta1/types.ts';
import { parseCIDR, type CIDR } from '../../lib/ip/index.ts';

const BLOCK_SIZE = { 4: { min: 20, max: 32, default: 26 }, 6: { min: 116, max: 128, default: 122 } } as const;

export type SpiderSource =
  { kind: 'SpiderIPPool'; object: SpiderIPPool } | { kind: 'SpiderSubnet'; object: SpiderSubnet };

/** One opted-in object: the subnet it asks to advertise, or why its request cannot be honoured. */
export type AdvertiseRequest =
  { source: string; cidr: CIDR; blockSize: number; error?: undefined } | { source: string; cidr: CIDR; error: string };

export const isOptedIn = ({ object }: SpiderSource): boolean =>
  object.metadata.annotations?.[CALICO_ANNOTATION.bgp] === 'true';

/**
 * The request of an opted-in object that is not being deleted. An object whose subnet does not parse
 * names no Calico pool, so it asks for nothing (the IPPool webhook rejects such objects anyway).
 */
export function advertiseRequest(s: SpiderSource): AdvertiseRequest | undefined {
  if (!isOptedIn(s) || s.object.metadata.deletionTimestamp) return undefined;
  const source = `${s.kind} ${s.object.metadata.name}`;
  let cidr: CIDR;
  try {
    cidr = parseCIDR(s.object.spec?.subnet ?? '');
  } catch {
    return undefined;
  }
  const limits = BLOCK_SIZE[cidr.family];
  const text = s.object.metadata.annotations?.[CALICO_ANNOTATION.blockSize];
  if (text === undefined) return { source, cidr, blockSize: Math.max(limits.default, cidr.prefix) };
  const fail = (why: string) => ({
    source,
    cidr,
    error: `${source}: annotation ${CALICO_ANNOTATION.blockSize} ${JSON.stringify(text)} ${why}`,
  });
  if (!/^[0-9]+$/.test(text)) return fail('is not a number');
  const blockSize = Number(text);
  if (blockSize < limits.min || blockSize > limits.max)
    return fail(`is out of range: an IPv${cidr.family} block size must be ${limits.min}-${limits.max}`);
  if (blockSize < cidr.prefix)
    return fail(`is larger than the subnet ${cidr.canonical}: a Calico block cannot exceed its pool`);
  return { source, cidr, blockSize };
}
