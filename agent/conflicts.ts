// Addresses another host on the segment answers for (docs/coordinator.md#conflict-and-gateway-detection). The
// coordinator reports them; until the hold expires, this agent hands them out to nobody, so the retried ADD of
// the pod that found the conflict gets another address instead of the same duplicate.
import { formatIP, IPSet, parseIP, type Family } from '../lib/ip/index.ts';

/** Long enough for the retries of one sandbox; short enough that a freed duplicate comes back on its own. */
export const CONFLICT_HOLD_MS = 10 * 60_000;

export interface HeldConflict {
  ip: string;
  mac: string;
  until: number;
}

export class Conflicts {
  private readonly held = new Map<string, HeldConflict>();

  constructor(
    private readonly holdMs = CONFLICT_HOLD_MS,
    private readonly now: () => number = Date.now,
  ) {}

  hold(ip: string, mac: string): HeldConflict {
    const { family, value } = parseIP(ip);
    const entry = { ip: formatIP(value, family), mac, until: this.now() + this.holdMs };
    this.held.set(entry.ip, entry);
    return entry;
  }

  /** The addresses of `family` still held; expired holds are dropped on the way. */
  set(family: Family): IPSet {
    const now = this.now();
    const values: bigint[] = [];
    for (const [ip, entry] of this.held) {
      if (entry.until <= now) this.held.delete(ip);
      else {
        const parsed = parseIP(ip);
        if (parsed.family === family) values.push(parsed.value);
      }
    }
    return IPSet.fromValues(family, values);
  }
}
