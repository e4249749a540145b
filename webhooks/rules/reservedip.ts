// SpiderReservedIP admission (docs/admission.md#spiderreservedip). Mutation: ipVersion from the first range, merged
// ranges. Validation: version known and enabled, every range valid for it, version immutable. Reserved addresses may
// overlap pools on purpose: that is how they keep addresses from being handed out.
import type { SpiderReservedIP } from '../../api/v2beta1/types.ts';
import { KINDS } from '../../api/v2beta1/kinds.ts';
import { parseRange } from '../../lib/ip/index.ts';
import type { AdmissionHandler } from '../types.ts';
import { ALLOWED, decide, isTerminating, objectRef, terminatingUpdate } from './decision.ts';
import type { RuleOptions } from './options.ts';
import { mutation } from './patch.ts';
import { checkImmutable } from './pool-spec.ts';
import { checkRanges, mergeRanges } from './ranges.ts';

const KIND = KINDS.SpiderReservedIP.kind;

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
