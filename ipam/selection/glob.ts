// Shell-style patterns in pool-name lists, with the semantics of Go's filepath.Match because users write
// the same annotations for Spiderpool:
//   *       any run of characters except '/'
//   ?       one character except '/'
//   [...]   a class of characters or ranges lo-hi, negated by a leading '^'; ']' and '-' must be escaped inside
//   \c      the character c
// A malformed pattern (unclosed class, dangling '\', ...) is an error even when the name would not match,
// as in Go.

/**
 * Whether a pool-name entry is to be expanded as a pattern. The test is Spiderpool's, so a name is a
 * pattern here exactly when it is one upstream: a lone '[' or ']' stays a literal name.
 */
export function isPattern(entry: string): boolean {
  return entry.includes('*') || entry.includes('?') || (entry.includes('[') && entry.includes(']'));
}

/** Thrown for a pattern Go's filepath.Match rejects with ErrBadPattern. */
export class BadPatternError extends Error {
  override readonly name = 'BadPatternError';
}

/** Compiles a pattern to a RegExp that matches whole names. */
export function globToRegExp(pattern: string): RegExp {
  // Code points, not UTF-16 units: '?' and class ranges work on characters as Go's runes do.
  const chars = Array.from(pattern);
  let pos = 0;
  let source = '';

  const bad = (why: string): BadPatternError => new BadPatternError(`${why} in pattern "${pattern}"`);

  // One member of a class: a character, possibly escaped. Go refuses an unescaped '-' or ']' here and
  // requires the class to continue after it.
  const classChar = (): string => {
    let c = chars[pos];
    if (c === undefined) throw bad('unclosed character class');
    if (c === '-' || c === ']') throw bad(`unescaped '${c}' inside a character class`);
    if (c === '\\') {
      pos++;
      c = chars[pos];
      if (c === undefined) throw bad('unclosed character class');
    }
    pos++;
    if (pos >= chars.length) throw bad('unclosed character class');
    return c;
  };

  while (pos < chars.length) {
    const c = chars[pos] as string;
    pos++;
    if (c === '*') {
      source += '[^/]*';
    } else if (c === '?') {
      source += '[^/]';
    } else if (c === '\\') {
      const escaped = chars[pos];
      if (escaped === undefined) throw bad("trailing '\\'");
      source += literal(escaped);
      pos++;
    } else if (c === '[') {
      let negated = false;
      if (chars[pos] === '^') {
        negated = true;
        pos++;
      }
      let members = '';
      let count = 0;
      while (!(chars[pos] === ']' && count > 0)) {
        const lo = classChar();
        let hi = lo;
        if (chars[pos] === '-') {
          pos++;
          hi = classChar();
        }
        // Go accepts an inverted range and lets it match nothing; a RegExp would reject it.
        if (codePoint(lo) <= codePoint(hi)) members += lo === hi ? unicodeEscape(lo) : `${unicodeEscape(lo)}-${unicodeEscape(hi)}`;
        count++;
      }
      pos++;
      source += `[${negated ? '^' : ''}${members}]`;
    } else {
      source += literal(c);
    }
  }
  return new RegExp(`^${source}$`, 'u');
}

const codePoint = (c: string): number => c.codePointAt(0) as number;
const unicodeEscape = (c: string): string => `\\u{${codePoint(c).toString(16)}}`;
const literal = (c: string): string => c.replace(/[\\^$.*+?()[\]{}|/]/u, '\\$&');
