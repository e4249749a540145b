// Random sequences of pool creates, updates and deletes, with pods holding addresses in between, go
// through the mutating and validating handlers as the apiserver would send them. A small model that
// lists every address of a /24 or /120 one by one decides independently which requests are valid: the
// handlers must agree with it on every request, so nothing invalid is accepted and nothing valid is
// refused, and the accepted state must keep the invariants.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { SpiderIPPool, SpiderSubnet } from '../../api/v2beta1/types.ts';
import { type Family, IPSet, formatIP, parseCIDR, parseIP, parseRange } from '../../lib/ip/index.ts';
import { mutateIPPool, validateIPPool } from './ippool.ts';
import { DEFAULT_RULE_OPTIONS } from './options.ts';
import { FakeCluster, admit, meta, request } from './testing.ts';

const SUBNETS: Record<Family, string> = { 4: '10.20.0.0/24', 6: 'fd00:20::/120' };
const SIZE = 256;
// Offsets from SIZE up fall outside the subnet.
const OFFSET_LIMIT = 300;

type Span = [number, number];
interface PoolOp {
  kind: 'apply';
  pool: number;
  ips: Span[];
  excludeIPs: Span[];
  gateway?: number;
  allocate: number[];
}
interface DeleteOp {
  kind: 'delete';
  pool: number;
}
type Op = PoolOp | DeleteOp;
interface Scenario {
  family: Family;
  subnet?: { ips: Span; gateway?: number };
  ops: Op[];
}

// Mostly well-formed spans inside the subnet; now and then a reversed one, or one that crosses or lies beyond the
// subnet's end.
const span: fc.Arbitrary<Span> = fc.oneof(
  {
    weight: 60,
    arbitrary: fc
      .tuple(fc.integer({ min: 0, max: SIZE - 1 }), fc.integer({ min: 0, max: 30 }))
      .map(([a, n]): Span => [a, Math.min(SIZE - 1, a + n)]),
  },
  { weight: 1, arbitrary: fc.integer({ min: SIZE - 30, max: SIZE - 1 }).map((a): Span => [a, SIZE + 5]) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 1, max: SIZE - 1 }), fc.integer({ min: 1, max: 30 }))
      .map(([b, n]): Span => [b, Math.max(0, b - n)]),
  },
  { weight: 1, arbitrary: fc.integer({ min: SIZE, max: OFFSET_LIMIT }).map((a): Span => [a, a]) },
);
const poolOp: fc.Arbitrary<Op> = fc.record({
  kind: fc.constant('apply' as const),
  pool: fc.integer({ min: 0, max: 2 }),
  ips: fc.array(span, { maxLength: 4 }),
  excludeIPs: fc.array(span, { maxLength: 2 }),
  gateway: fc.option(
    fc.oneof(
      { weight: 19, arbitrary: fc.integer({ min: 0, max: SIZE - 1 }) },
      { weight: 1, arbitrary: fc.integer({ min: SIZE, max: OFFSET_LIMIT }) },
    ),
    { nil: undefined },
  ),
  allocate: fc.array(fc.integer({ min: 0, max: SIZE - 1 }), { maxLength: 6 }),
});
const deleteOp: fc.Arbitrary<Op> = fc.record({
  kind: fc.constant('delete' as const),
  pool: fc.integer({ min: 0, max: 2 }),
});
const scenario: fc.Arbitrary<Scenario> = fc.record({
  family: fc.constantFrom<Family>(4, 6),
  subnet: fc.option(
    fc.record({
      ips: fc.tuple(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 180, max: 250 })),
      gateway: fc.option(fc.constant(254), { nil: undefined }),
    }),
    { nil: undefined },
  ),
  ops: fc.array(fc.oneof({ weight: 5, arbitrary: poolOp }, { weight: 1, arbitrary: deleteOp }), {
    minLength: 1,
    maxLength: 12,
  }),
});

const addressOf = (family: Family, offset: number): string =>
  formatIP(parseCIDR(SUBNETS[family]).start + BigInt(offset), family);
const rangeOf = (family: Family, [a, b]: Span): string =>
  a === b ? addressOf(family, a) : `${addressOf(family, a)}-${addressOf(family, b)}`;
const offsets = (spans: Span[]): Set<number> =>
  new Set(spans.flatMap(([a, b]) => Array.from({ length: Math.max(0, b - a + 1) }, (_, i) => a + i)));

/** The model: what a pool hands out, listed address by address. */
interface ModelPool {
  effective: Set<number>;
  allocated: Set<number>;
}

function modelAccepts(s: Scenario, op: PoolOp, others: ModelPool[], current: ModelPool | undefined): boolean {
  const all = [...op.ips, ...op.excludeIPs];
  if (all.some(([a, b]) => a > b || b >= SIZE)) return false;
  const ips = offsets(op.ips);
  const exclude = offsets(op.excludeIPs);
  const effective = new Set([...ips].filter((o) => !exclude.has(o)));
  const gateway = op.gateway ?? s.subnet?.gateway;
  if (op.gateway !== undefined && op.gateway >= SIZE) return false;
  if (gateway !== undefined && effective.has(gateway)) return false;
  if (others.some((o) => [...effective].some((a) => o.effective.has(a)))) return false;
  if (s.subnet) {
    const [lo, hi] = s.subnet.ips;
    if ([...effective].some((a) => a < lo || a > hi)) return false;
  }
  if (current && [...current.allocated].some((a) => !effective.has(a))) return false;
  return true;
}

function checkInvariants(family: Family, stored: Map<string, SpiderIPPool>): void {
  const cidr = parseCIDR(SUBNETS[family]);
  const sets: [string, IPSet][] = [];
  for (const [name, pool] of stored) {
    assert.equal(pool.spec.ipVersion, family);
    for (const r of [...(pool.spec.ips ?? []), ...(pool.spec.excludeIPs ?? [])]) {
      const { start, end } = parseRange(r);
      assert.ok(start >= cidr.start && end <= cidr.end, `${name}: ${r} is outside ${cidr.canonical}`);
    }
    const ips = IPSet.fromRanges(pool.spec.ips ?? [], family);
    assert.deepEqual(pool.spec.ips ?? [], ips.toRanges(), `${name}: ips are not merged and sorted`);
    const effective = ips.subtract(IPSet.fromRanges(pool.spec.excludeIPs ?? [], family));
    if (pool.spec.gateway) {
      const gw = parseIP(pool.spec.gateway).value;
      assert.ok(gw >= cidr.start && gw <= cidr.end, `${name}: gateway outside the subnet`);
      assert.ok(!effective.contains(gw), `${name}: the gateway would be handed out`);
    }
    for (const ip of Object.keys(JSON.parse(pool.status?.allocatedIPs ?? '{}') as object)) {
      assert.ok(effective.contains(parseIP(ip).value), `${name}: allocated ${ip} is no longer in the pool`);
    }
    for (const [other, set] of sets) assert.ok(!set.overlaps(effective), `${name} and ${other} share addresses`);
    sets.push([name, effective]);
  }
}

async function play(s: Scenario): Promise<void> {
  const { family } = s;
  const cluster = new FakeCluster();
  if (s.subnet) {
    const subnet: SpiderSubnet = {
      ...meta('subnet', { uid: 'subnet-uid' }),
      kind: 'SpiderSubnet',
      spec: {
        subnet: SUBNETS[family],
        ipVersion: family,
        ips: [rangeOf(family, s.subnet.ips)],
        ...(s.subnet.gateway === undefined ? {} : { gateway: addressOf(family, s.subnet.gateway) }),
      },
    };
    cluster.subnets = [subnet];
  }
  const mutate = mutateIPPool();
  const validate = validateIPPool(DEFAULT_RULE_OPTIONS);
  const stored = new Map<string, SpiderIPPool>();
  const model = new Map<string, ModelPool>();
  for (const [step, op] of s.ops.entries()) {
    const name = `pool-${op.pool}`;
    const old = stored.get(name);
    cluster.pools = [...stored.values()];
    if (op.kind === 'delete') {
      if (!old) continue;
      const decision = await validate(request('DELETE', 'SpiderIPPool', undefined, old), cluster);
      assert.equal(
        decision.allowed,
        (model.get(name)?.allocated.size ?? 0) === 0,
        `step ${step}: delete ${name}: ${decision.message}`,
      );
      if (decision.allowed) {
        stored.delete(name);
        model.delete(name);
      }
      continue;
    }
    const pool: SpiderIPPool = {
      ...meta(name),
      kind: 'SpiderIPPool',
      spec: {
        subnet: SUBNETS[family],
        ips: op.ips.map((r) => rangeOf(family, r)),
        excludeIPs: op.excludeIPs.map((r) => rangeOf(family, r)),
        ...(op.gateway === undefined ? {} : { gateway: addressOf(family, op.gateway) }),
      },
      ...(old ? { metadata: old.metadata, status: old.status } : {}),
    };
    const others = [...model.entries()].filter(([n]) => n !== name).map(([, m]) => m);
    const expected = modelAccepts(s, op, others, model.get(name));
    const { decision, object } = await admit(
      mutate,
      validate,
      cluster,
      old ? 'UPDATE' : 'CREATE',
      'SpiderIPPool',
      pool,
      old,
    );
    assert.equal(decision.allowed, expected, `step ${step}: ${JSON.stringify(op)} → ${decision.message ?? 'allowed'}`);
    if (!decision.allowed) continue;
    const effective = offsets(op.ips);
    for (const o of offsets(op.excludeIPs)) effective.delete(o);
    // Pods take some of the pool's free addresses, as the agent would through the status subresource.
    const allocated = new Set([
      ...(model.get(name)?.allocated ?? []),
      ...op.allocate.filter((o) => effective.has(o) && others.every((m) => !m.effective.has(o))),
    ]);
    const records = Object.fromEntries(
      [...allocated].map((o) => [addressOf(family, o), { pod: `default/pod-${o}`, podUid: `uid-${o}` }]),
    );
    stored.set(name, {
      ...object,
      status: allocated.size > 0 ? { allocatedIPs: JSON.stringify(records), allocatedIPCount: allocated.size } : {},
    });
    model.set(name, { effective, allocated });
    checkInvariants(family, stored);
  }
}

describe('SpiderIPPool webhook properties', function () {
  this.timeout(60_000);

  it('accepts exactly the valid requests, and what it accepts keeps the invariants', async () => {
    await fc.assert(fc.asyncProperty(scenario, play), { numRuns: 200 });
  });

  it('accepts pools that partition the subnet, whatever their number and layout', async () => {
    const layout = fc.record({
      family: fc.constantFrom<Family>(4, 6),
      cuts: fc.uniqueArray(fc.integer({ min: 2, max: SIZE - 2 }), { maxLength: 6 }),
    });
    await fc.assert(
      fc.asyncProperty(layout, async ({ family, cuts }) => {
        const cluster = new FakeCluster();
        const bounds = [1, ...[...cuts].sort((a, b) => a - b), SIZE - 1];
        for (let i = 0; i + 1 < bounds.length; i++) {
          const [lo, hi] = [bounds[i] as number, (bounds[i + 1] as number) - 1];
          if (lo > hi) continue;
          const pool: SpiderIPPool = {
            ...meta(`part-${i}`),
            kind: 'SpiderIPPool',
            spec: { subnet: SUBNETS[family], gateway: addressOf(family, 0), ips: [rangeOf(family, [lo, hi])] },
          };
          const { decision, object } = await admit(
            mutateIPPool(),
            validateIPPool(DEFAULT_RULE_OPTIONS),
            cluster,
            'CREATE',
            'SpiderIPPool',
            pool,
          );
          assert.equal(decision.allowed, true, decision.message);
          cluster.pools.push(object);
        }
      }),
      { numRuns: 100 },
    );
  });
});
