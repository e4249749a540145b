import assert from 'node:assert/strict';
import type { LabelSelector } from '../../api/v2beta1/types.ts';
import { describeSelector, matchesSelector, selectorProblem } from './label-selector.ts';

const labels = { zone: 'a', disk: 'ssd', empty: '' };

const cases: [title: string, selector: LabelSelector, expected: boolean][] = [
  ['empty selector matches everything', {}, true],
  ['matchLabels equal', { matchLabels: { zone: 'a' } }, true],
  ['matchLabels different value', { matchLabels: { zone: 'b' } }, false],
  ['matchLabels missing key', { matchLabels: { rack: '1' } }, false],
  ['matchLabels empty value needs the key', { matchLabels: { empty: '' } }, true],
  ['matchLabels empty value, key absent', { matchLabels: { other: '' } }, false],
  ['In', { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a', 'b'] }] }, true],
  ['In, key absent', { matchExpressions: [{ key: 'rack', operator: 'In', values: ['a'] }] }, false],
  ['NotIn', { matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, false],
  ['NotIn, key absent', { matchExpressions: [{ key: 'rack', operator: 'NotIn', values: ['a'] }] }, true],
  ['Exists', { matchExpressions: [{ key: 'disk', operator: 'Exists' }] }, true],
  ['DoesNotExist', { matchExpressions: [{ key: 'disk', operator: 'DoesNotExist' }] }, false],
  [
    'labels and expressions are ANDed',
    { matchLabels: { zone: 'a' }, matchExpressions: [{ key: 'gpu', operator: 'Exists' }] },
    false,
  ],
];

describe('selection/label-selector', () => {
  for (const [title, selector, expected] of cases) {
    it(title, () => {
      assert.equal(selectorProblem(selector), undefined);
      assert.equal(matchesSelector(selector, labels), expected);
    });
  }

  it('an object without labels only matches selectors that need no label', () => {
    assert.equal(matchesSelector({}, undefined), true);
    assert.equal(matchesSelector({ matchExpressions: [{ key: 'gpu', operator: 'DoesNotExist' }] }, undefined), true);
    assert.equal(matchesSelector({ matchLabels: { zone: 'a' } }, undefined), false);
  });

  it('selectors Kubernetes refuses are reported', () => {
    assert.match(
      selectorProblem({ matchExpressions: [{ key: 'zone', operator: 'In', values: [] }] }) ?? '',
      /In on key "zone" needs at least one value/,
    );
    assert.match(
      selectorProblem({ matchExpressions: [{ key: 'zone', operator: 'Exists', values: ['a'] }] }) ?? '',
      /Exists on key "zone" takes no values/,
    );
  });

  it('describes selectors in kubectl syntax', () => {
    assert.equal(
      describeSelector({
        matchLabels: { zone: 'a' },
        matchExpressions: [
          { key: 'disk', operator: 'In', values: ['ssd', 'nvme'] },
          { key: 'rack', operator: 'NotIn', values: ['1'] },
          { key: 'gpu', operator: 'Exists' },
          { key: 'spot', operator: 'DoesNotExist' },
        ],
      }),
      'zone=a,disk in (ssd,nvme),rack notin (1),gpu,!spot',
    );
  });
});
