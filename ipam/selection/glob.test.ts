import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BadPatternError, compileGlob, isPattern, MAX_PATTERN_LENGTH } from './glob.ts';

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
  ['**', 'abc', true],
  ['a**c', 'abbc', true],
  ['a**c', 'ab/c', false],
  ['*a*a*', 'aa', true],
  ['*a*a*', 'a', false],
  ['', '', true],
  ['', 'a', false],
  ['a*b*c', 'axxbyycbc', true],
  ['*-v4', 'pool-v4-v4', true],
];

const badPatterns = ['[]a]', '[-]', '[x-]', '[-x]', '\\', '[a-b-c]', '[', '[^', '[^bc', 'a[', 'ab[c', 'a\\'];

describe('selection/glob', () => {
  describe('compileGlob follows filepath.Match', () => {
    for (const [pattern, name, expected] of matches) {
      it(`${JSON.stringify(pattern)} ${expected ? 'matches' : 'does not match'} ${JSON.stringify(name)}`, () => {
        assert.equal(compileGlob(pattern).test(name), expected);
      });
    }
  });

  describe('malformed patterns are refused like ErrBadPattern', () => {
    for (const pattern of badPatterns) {
      it(JSON.stringify(pattern), () => {
        assert.throws(() => compileGlob(pattern), BadPatternError);
      });
    }
  });

  it(`refuses a pattern longer than ${MAX_PATTERN_LENGTH} characters`, () => {
    assert.throws(() => compileGlob('*'.repeat(MAX_PATTERN_LENGTH + 1)), /longer than 253/);
    assert.doesNotThrow(() => compileGlob('*'.repeat(MAX_PATTERN_LENGTH)));
  });

  // A pod author controls the pattern. A backtracking matcher never returns for this (ten stars already
  // took seconds), and it blocks the event loop, so it runs in a child process that is killed if it hangs.
  it('matches 30 stars against a pool name without blowing up', () => {
    const glob = fileURLToPath(new URL('./glob.ts', import.meta.url));
    const script = `import { compileGlob } from ${JSON.stringify(glob)};
      const g = compileGlob('${'*'.repeat(30)}x');
      process.stdout.write(String(g.test('${'a'.repeat(26)}') || g.test('${'a'.repeat(252)}')));`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      timeout: 20_000,
      encoding: 'utf8',
    });
    assert.equal(child.signal, null, 'the match did not finish within 20 s');
    assert.equal(child.stdout, 'false');
  });

  it('isPattern treats *, ? and a [...] pair as a pattern, anything else as a name', () => {
    assert.deepEqual(['pool-a', 'pool-*', 'pool-?', 'pool-[ab]', 'pool-[', 'pool-]'].map(isPattern), [
      false,
      true,
      true,
      true,
      false,
      false,
    ]);
  });
});
