// The result of looking for CIDRs in one place: what was found, and what was looked for and not found
// (or found malformed). The problems become the SpiderCoordinator's NotReady reason when nothing is found.
import { parseCIDR } from '../../lib/ip/index.ts';

export interface Found {
  cidrs: string[];
  problems: string[];
}

export const nothing = (problem: string): Found => ({ cidrs: [], problems: [problem] });

/**
 * CIDRs listed in one field, separated by commas or white space, in canonical form, without repeats.
 * Invalid entries are skipped, each with a problem naming `where` (object and field).
 */
export function parseCIDRList(text: string, where: string): Found {
  const found: Found = { cidrs: [], problems: [] };
  for (const entry of text.split(/[\s,]+/).filter(Boolean)) {
    try {
      const { canonical } = parseCIDR(entry);
      if (!found.cidrs.includes(canonical)) found.cidrs.push(canonical);
    } catch {
      found.problems.push(`${where} ${JSON.stringify(entry)} is not a valid CIDR`);
    }
  }
  return found;
}

/** The first of several places, in order, that yields CIDRs; else every place's problems. */
export function firstFound(...places: Found[]): Found {
  return places.find((f) => f.cidrs.length > 0) ?? { cidrs: [], problems: places.flatMap((f) => f.problems) };
}

/** Every place's CIDRs together; `absent` is the problem when there are no places, or none with CIDRs or problems. */
export function concatFound(places: Found[], absent?: string): Found {
  const cidrs = [...new Set(places.flatMap((f) => f.cidrs))];
  const problems = places.flatMap((f) => f.problems);
  return { cidrs, problems: cidrs.length === 0 && problems.length === 0 && absent ? [absent] : problems };
}

/** Sorts objects oldest first, as Calico and Cilium pools are listed by creation time (name breaks ties). */
export function byCreation<T extends { metadata?: { name?: string; creationTimestamp?: Date | string } }>(
  items: readonly T[],
): T[] {
  const time = (t: T) => (t.metadata?.creationTimestamp ? new Date(t.metadata.creationTimestamp).getTime() : 0);
  return [...items].sort((a, b) => time(a) - time(b) || (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
}
