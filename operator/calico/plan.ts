// What to do with the one Calico IPPool of one CIDR, given the opt-in requests for that CIDR and the
// Calico IPPools that exist. Pure: the reconciler performs the plan.
import { parseCIDR, type CIDR } from '../../lib/ip/index.ts';
import { MANAGED_BY, MANAGED_BY_LABEL, isOwned, type CalicoIPPool, type CalicoIPPoolSpec } from './calico-ippool.ts';
import type { AdvertiseRequest } from './opt-in.ts';

export type Plan =
  | { action: 'none'; note?: string }
  | { action: 'create'; pool: CalicoIPPool }
  | { action: 'update'; pool: CalicoIPPool }
  | { action: 'delete'; pool: CalicoIPPool; note?: string };

// The values of the Calico quick start: routed underlay addresses, no tunnel, no SNAT, on every node.
const FIXED = { ipipMode: 'Never', vxlanMode: 'Never', natOutgoing: false, nodeSelector: 'all()' } as const;

function desiredSpec(
  cidr: CIDR,
  blockSize: number,
): Required<Pick<CalicoIPPoolSpec, 'cidr' | 'blockSize' | keyof typeof FIXED>> {
  return { cidr: cidr.canonical, blockSize, ...FIXED };
}

/** Whether a Calico pool's CIDR shares any address with `a` (an unparsable CIDR shares none). */
export function overlaps(a: CIDR, pool: CalicoIPPool): boolean {
  try {
    const b = parseCIDR(pool.spec?.cidr ?? '');
    return a.family === b.family && a.start <= b.end && b.start <= a.end;
  } catch {
    return false;
  }
}

/**
 * `requests` are those whose CIDR maps to `name`; `pools` every Calico IPPool. Calico pools this product
 * does not own are never touched: one with the same name blocks the CIDR, and one that covers or
 * overlaps the CIDR makes ours redundant (Calico forbids overlapping pools), so ours is not created or
 * is removed.
 */
export function planCalicoPool(
  name: string,
  requests: readonly AdvertiseRequest[],
  pools: readonly CalicoIPPool[],
): Plan {
  const existing = pools.find((p) => p.metadata?.name === name);
  const ours = existing && isOwned(existing) ? existing : undefined;
  if (requests.length === 0)
    return ours && !ours.metadata?.deletionTimestamp ? { action: 'delete', pool: ours } : { action: 'none' };

  const cidr = requests[0]!.cidr;
  const sources = requests.map((r) => r.source).join(', ');
  if (existing && !ours) {
    return {
      action: 'none',
      note: `Calico IPPool ${name} exists without label ${MANAGED_BY_LABEL}=${MANAGED_BY}; it is left as it is and ${cidr.canonical} (${sources}) is not managed`,
    };
  }
  const errors = requests.flatMap((r) => (r.error === undefined ? [] : [r.error]));
  if (errors.length > 0)
    return { action: 'none', note: `${errors.join('; ')}; Calico IPPool ${name} is left unchanged` };
  const valid = requests.flatMap((r) => (r.error === undefined ? [r] : []));
  const sizes = new Set(valid.map((r) => r.blockSize));
  if (sizes.size > 1) {
    const asks = valid.map((r) => `${r.source} asks ${r.blockSize}`).join(', ');
    return {
      action: 'none',
      note: `conflicting Calico block sizes for ${cidr.canonical}: ${asks}; Calico IPPool ${name} is left unchanged`,
    };
  }

  const foreign = pools.find((p) => !isOwned(p) && !p.metadata?.deletionTimestamp && overlaps(cidr, p));
  if (foreign) {
    const note = `Calico IPPool ${foreign.metadata?.name} (cidr ${foreign.spec?.cidr}) is not managed by ${MANAGED_BY} and covers ${cidr.canonical} (${sources}); it is left as it is`;
    return ours && !ours.metadata?.deletionTimestamp
      ? { action: 'delete', pool: ours, note: `${note}, and the duplicate ${name} is removed` }
      : { action: 'none', note };
  }

  const spec = desiredSpec(cidr, [...sizes][0]!);
  if (!ours) {
    return {
      action: 'create',
      pool: {
        apiVersion: 'crd.projectcalico.org/v1',
        kind: 'IPPool',
        metadata: { name, labels: { [MANAGED_BY_LABEL]: MANAGED_BY } },
        spec,
      },
    };
  }
  if (ours.metadata?.deletionTimestamp) return { action: 'none' };
  const current = ours.spec ?? {};
  if (Object.entries(spec).every(([field, value]) => current[field] === value)) return { action: 'none' };
  return { action: 'update', pool: { ...ours, spec: { ...current, ...spec } } };
}
