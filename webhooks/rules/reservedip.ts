// SpiderReservedIP admission (docs/admission.md#spiderreservedip). Mutation: ipVersion from the first range, merged
// ranges. Validation: no IPv4-mapped IPv6 entries, version known and enabled, every range valid for it, version
// immutable. Reserved addresses may overlap pools on purpose: that is how they keep addresses from being handed out.
import type { SpiderReservedIP } from '../../api/v2beta1/types.ts';
import { KINDS } from '../../api/v2beta1/kinds.ts';
import { type Family, formatIP, parseRange } from '../../lib/ip/index.ts';
import type { AdmissionHandler } from '../types.ts';
import { ALLOWED, decide, isTerminating, objectRef, show, terminatingUpdate } from './decision.ts';
import type { RuleOptions } from './options.ts';
import { mutation } from './patch.ts';
import { checkImmutable } from './pool-spec.ts';
import { checkRanges, mergeRanges } from './ranges.ts';

const KIND = KINDS.SpiderReservedIP.kind;

// ::ffff:0:0/96 holds IPv4 addresses written as IPv6. Taken as IPv6, such an entry would reserve nothing in IPv4
// pools, which is surely not what its author meant.
const isMapped = (family: Family, value: bigint): boolean => family === 6 && value >> 32n === 0xffffn;

/** The IPv4 form of an entry written as IPv4-mapped IPv6 addresses; undefined for any other entry. */
function mappedIPv4(text: string): string | undefined {
  let range;
  try {
    range = parseRange(text);
  } catch {
    return undefined;
  }
  if (!isMapped(range.family, range.start) && !isMapped(range.family, range.end)) return undefined;
  const v4 = (value: bigint) => formatIP(value & 0xffffffffn, 4);
  return range.start === range.end ? v4(range.start) : `${v4(range.start)}-${v4(range.end)}`;
}

function rangeProblem(text: string): string {
  try {
    parseRange(text);
    return 'it is valid, but the mutating webhook did not run';
  } catch (err) {
    return (err as Error).message;
  }
}

export const mutateReservedIP = (): AdmissionHandler => async (request) => {
  const reserved = request.object as SpiderReservedIP | undefined;
  if (!reserved || isTerminating(reserved)) return ALLOWED;
  // Left as written, so that validation names the IPv4-mapped entries as the user wrote them.
  if (reserved.spec?.ips?.some((text) => mappedIPv4(text) !== undefined)) return ALLOWED;
  return mutation(reserved, (copy) => {
    const spec = (copy.spec ??= {});
    const [first] = spec.ips ?? [];
    if (spec.ipVersion === undefined && first !== undefined) {
      try {
        spec.ipVersion = parseRange(first).family;
      } catch {
        // validation names the bad range
      }
    }
    const ips = mergeRanges(spec.ips);
    if (ips) spec.ips = ips;
  });
};

export const validateReservedIP =
  (options: RuleOptions): AdmissionHandler =>
  async (request) => {
    const ref = objectRef(KIND, request);
    const terminating = terminatingUpdate(ref, request);
    if (terminating) return terminating;
    const reserved = request.object as SpiderReservedIP;
    const spec = reserved.spec ?? {};
    const problems: string[] = [];
    const stored = request.oldObject as SpiderReservedIP | undefined;
    if (request.operation === 'UPDATE' && stored)
      checkImmutable('spec.ipVersion', stored.spec?.ipVersion, spec.ipVersion, problems);
    const family = spec.ipVersion;
    const [first] = spec.ips ?? [];
    const mapped = (spec.ips ?? []).flatMap((text, i) => {
      const v4 = mappedIPv4(text);
      return v4 === undefined
        ? []
        : [
            `spec.ips[${i}] ${show(text)} is an IPv4-mapped IPv6 address: write it as IPv4 (${v4}), or it reserves nothing in IPv4 pools`,
          ];
    });
    // Their family is what is wrong with them, so the family checks below would only repeat it.
    if (mapped.length > 0) return decide(ref, [...problems, ...mapped]);
    if (family === undefined && first === undefined) {
      problems.push('spec.ipVersion is not set and could not be derived: spec.ips is empty');
    } else if (family === undefined) {
      problems.push(
        `spec.ipVersion is not set and could not be derived from spec.ips[0]: ${rangeProblem(first ?? '')}`,
      );
    } else {
      if (!(family === 4 ? options.enableIPv4 : options.enableIPv6))
        problems.push(`spec.ipVersion ${family}: IPv${family} is disabled (enableIPv${family} is false)`);
      checkRanges('spec.ips', spec.ips, family, problems);
    }
    return decide(ref, problems);
  };
