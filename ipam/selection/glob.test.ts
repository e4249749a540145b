import assert from 'node:assert/strict';
import { BadPatternError, globToRegExp, isPattern } from './glob.ts';

// Expected results are those of Go's filepath.Match on Linux.
const matches: [pattern: string, name: string, expected: boolean][] = [
  ['abc', 'abc', true],
  ['abc', 'abcd', false],
  ['*', 'abc', true],
  ['*', '', true],
  ['*c', 'abc', true],
  ['a*', 'a', true],
  ['a*', 'ab/c', false],
  ['a*/b', 'abc/b', true],
  ['a*/b', 'a/c/b', false],
  ['a*b?c*x', 'abxbbxdbxebxczzx', true],
  ['a*b?c*x', 'abxbbxdbxebxczzy', false],
  ['ab[c]', 'abc', true],
  ['ab[b-d]', 'abc', true],
  ['ab[e-g]', 'abc', false],
  ['ab[^c]', 'abc', false],
  ['ab[^b-d]', 'abc', false],
  ['ab[^e-g]', 'abc', true],
  ['a\\*b', 'a*b', true],
  ['a\\*b', 'ab', false],
  ['a?b', 'a☺b', true],
  ['a[^a]b', 'a☺b', true],
  ['a???b', 'a☺b', false],
  ['[a-ζ]*', 'α', true],
  ['*[a-ζ]', 'A', false],
  ['a?b', 'a/b', false],
  ['a*b', 'a/b', false],
  ['[\\]a]', ']', true],
  ['[\\-]', '-', true],
  ['[x\\-]', '-', true],
  ['[x\\-]', 'z', false],
  ['[\\-x]', 'x', true],
  ['[z-a]', 'm', false],
  ['[^z-a]', 'm', true],
  ['*x', 'xxx', true],
  ['pool.v4', 'poolxv4', false],
  ['pool+(v4)', 'pool+(v4)', true],
  ['10-6-*', '10-6-v4', true],
  ['backup-[0-9]', 'backup-7', true],
  ['backup-[0-9]', 'backup-10', false],
];

const badPatterns = ['[]a]', '[-]', '[x-]', '[-x]', '\\', '[a-b-c]', '[', '[^', '[^bc', 'a[', 'ab[c', 'a\\'];

describe('selection/glob', () => {
  describe('globToRegExp follows filepath.Match', () => {
    for (const [pattern, name, expected] of matches) {
      it(`${JSON.stringify(pattern)} ${expected ? 'matches' : 'does not match'} ${JSON.stringify(name)}`, () => {
        assert.equal(globToRegExp(pattern).test(name), expected);
      });
    }
  });

  describe('malformed patterns are refused like ErrBadPattern', () => {
    for (const pattern of badPatterns) {
      it(JSON.stringify(pattern), () => {
        assert.throws(() => globToRegExp(pattern), BadPatternError);
      });
    }
  });

  it('isPattern treats *, ? and a [...] pair as a pattern, anything else as a name', () => {
    assert.deepEqual(
      ['pool-a', 'pool-*', 'pool-?', 'pool-[ab]', 'pool-[', 'pool-]'].map(isPattern),
      [false, true, true, true, false, false],
    );
  });
});
