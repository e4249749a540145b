// Which addresses a pool records for each pod UID, computed once per version of the pool. A DEL that finds no
// endpoint looks its UID up in every cached pool; parsing each pool's records per DEL would make a storm of
// such DELs cost DELs × records, where the index costs pool versions × records.
import type { SpiderIPPool } from '../../api/v2beta1/types.ts';
import { readRecords } from '../../ipam/records.ts';

export interface HeldAddress {
  ip: string;
  pod: string;
}

type Index = ReadonlyMap<string, readonly HeldAddress[]>;

// The informer replaces a pool's object on every change, so the object itself is the version key.
const indexes = new WeakMap<SpiderIPPool, Index | undefined>();

function build(pool: SpiderIPPool): Index | undefined {
  let records;
  try {
    records = readRecords(pool).records;
  } catch {
    return undefined;
  }
  const index = new Map<string, HeldAddress[]>();
  for (const [ip, { pod, podUid }] of records) {
    const held = index.get(podUid);
    if (held) held.push({ ip, pod });
    else index.set(podUid, [{ ip, pod }]);
  }
  return index;
}

/** The pool's records of this UID; none for a pool whose records cannot be read (the GC reports those). */
export function heldBy(pool: SpiderIPPool, podUid: string): readonly HeldAddress[] {
  if (!indexes.has(pool)) indexes.set(pool, build(pool));
  return indexes.get(pool)?.get(podUid) ?? [];
}
