import assert from 'node:assert/strict';
import type { V1NodeSelectorTerm } from '@kubernetes/client-node';
import type { SpiderIPPool, SpiderIPPoolSpec } from '../../api/v2beta1/types.ts';
import { intersection, MAX_TERMS, placement, poolNodes, union } from './node-affinity.ts';
import type { FamilyChoice } from './pools.ts';

const pool = (name: string, spec: Partial<SpiderIPPoolSpec> = {}): SpiderIPPool => ({
  metadata: { name },
  spec: { ipVersion: 4, subnet: '10.6.0.0/16', ...spec },
});
const named = (name: string): V1NodeSelectorTerm => ({
  matchFields: [{ key: 'metadata.name', operator: 'In', values: [name] }],
});
const label = (key: string, operator: string, values?: string[]): V1NodeSelectorTerm => ({
  matchExpressions: [{ key, operator, ...(values ? { values } : {}) }],
});
const choice = (nic: string, pools: SpiderIPPool[]): FamilyChoice => ({
  source: 'annotation ipam.spidernet.io/ippools',
  nics: [nic],
  family: 4,
  pools,
});

describe('pod webhook: node sets', () => {
  it('a pool serves its nodeName list, else its nodeAffinity, else every node', () => {
    assert.deepEqual(poolNodes(pool('p', { nodeName: ['w1', 'w2'], nodeAffinity: { matchLabels: { zone: 'a' } } })), [
      named('w1'),
      named('w2'),
    ]);
    assert.deepEqual(
      poolNodes(
        pool('p', {
          nodeAffinity: { matchLabels: { zone: 'a' }, matchExpressions: [{ key: 'gpu', operator: 'DoesNotExist' }] },
        }),
      ),
      [
        {
          matchExpressions: [
            { key: 'zone', operator: 'In', values: ['a'] },
            { key: 'gpu', operator: 'DoesNotExist' },
          ],
        },
      ],
    );
    assert.equal(poolNodes(pool('p')), 'any');
    assert.equal(
      poolNodes(pool('p', { nodeName: [], nodeAffinity: {} })),
      'any',
      'an empty selector matches every node',
    );
  });

  it('union concatenates distinct terms; any absorbs', () => {
    assert.deepEqual(union([[named('w1')], [named('w1'), named('w2')]]), [named('w1'), named('w2')]);
    assert.equal(union([[named('w1')], 'any']), 'any');
  });

  it('intersection pairs terms and drops pairs no node can satisfy', () => {
    assert.deepEqual(intersection('any', [named('w1')]), [named('w1')]);
    assert.deepEqual(intersection([named('w1'), named('w2')], [named('w2'), named('w3')]), [named('w2')]);
    assert.deepEqual(intersection([named('w1')], [label('zone', 'In', ['a'])]), [
      { ...label('zone', 'In', ['a']), ...named('w1') },
    ]);
    assert.deepEqual(intersection([label('zone', 'In', ['a', 'b'])], [label('zone', 'In', ['b', 'c'])]), [
      {
        matchExpressions: [
          { key: 'zone', operator: 'In', values: ['a', 'b'] },
          { key: 'zone', operator: 'In', values: ['b', 'c'] },
        ],
      },
    ]);
  });

  const contradictions: [string, V1NodeSelectorTerm, V1NodeSelectorTerm][] = [
    ['disjoint In lists', label('zone', 'In', ['a']), label('zone', 'In', ['b'])],
    ['In wholly excluded by NotIn', label('zone', 'In', ['a', 'b']), label('zone', 'NotIn', ['a', 'b', 'c'])],
    ['Exists and DoesNotExist', label('gpu', 'Exists'), label('gpu', 'DoesNotExist')],
    ['In and DoesNotExist', label('gpu', 'In', ['x']), label('gpu', 'DoesNotExist')],
    ['Gt and DoesNotExist', label('cores', 'Gt', ['4']), label('cores', 'DoesNotExist')],
    [
      'a node name and NotIn that name',
      named('w1'),
      { matchFields: [{ key: 'metadata.name', operator: 'NotIn', values: ['w1'] }] },
    ],
  ];
  for (const [what, a, b] of contradictions) {
    it(`knows no node satisfies ${what}`, () => assert.deepEqual(intersection([a], [b]), []));
  }

  it('keeps requirements that only narrow', () => {
    assert.equal(
      (intersection([label('zone', 'In', ['a', 'b'])], [label('zone', 'NotIn', ['a'])]) as V1NodeSelectorTerm[]).length,
      1,
    );
    assert.equal(
      (intersection([label('zone', 'NotIn', ['a'])], [label('zone', 'DoesNotExist')]) as V1NodeSelectorTerm[]).length,
      1,
    );
  });
});

describe('pod webhook: placement', () => {
  it('warns instead of writing an affinity with more than MAX_TERMS terms', () => {
    const names = Array.from({ length: MAX_TERMS + 1 }, (_, i) => `w${i}`);
    const result = placement({ spec: { containers: [] } }, [choice('eth0', [pool('big', { nodeName: names })])]);
    assert.equal(result.patch, undefined);
    assert.match(
      result.warning ?? '',
      new RegExp(`need ${MAX_TERMS + 1} node selector terms \\(at most ${MAX_TERMS}\\)`),
    );
    assert.ok(
      placement({ spec: { containers: [] } }, [choice('eth0', [pool('ok', { nodeName: names.slice(1) })])]).patch,
    );
  });

  it("an empty term of the pod's own affinity matches no node and is not widened", () => {
    const pod = {
      spec: {
        containers: [],
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{}, label('disk', 'Exists')] },
          },
        },
      },
    };
    const result = placement(pod, [choice('eth0', [pool('p', { nodeName: ['w1'] })])]);
    assert.deepEqual(result.patch?.[0]?.value, { nodeSelectorTerms: [{ ...label('disk', 'Exists'), ...named('w1') }] });
  });
});
