// Shell-style patterns in pool-name lists, with the semantics of Go's filepath.Match because users write
// the same annotations for Spiderpool:
//   *       any run of characters except '/'
//   ?       one character except '/'
//   [...]   a class of characters or ranges lo-hi, negated by a leading '^'; ']' and '-' must be escaped inside
//   \c      the character c
// A malformed pattern (unclosed class, dangling '\', ...) is an error even when the name would not match,
// as in Go.
//
// Patterns come from pod annotations, so any pod author controls them. A backtracking RegExp costs
// O(n^k) for k stars (ten stars against a pool name took seconds and froze the event loop); matching
// chunk by chunk as Go does costs O(name × pattern) at worst, and the pattern length is capped.

/** A pool name is at most 253 characters; a longer pattern can only be an attack or a mistake. */
export const MAX_PATTERN_LENGTH = 253;

/**
 * Whether a pool-name entry is to be expanded as a pattern. The test is Spiderpool's, so a name is a
 * pattern here exactly when it is one upstream: a lone '[' or ']' stays a literal name.
 */
export function isPattern(entry: string): boolean {
  return entry.includes('*') || entry.includes('?') || (entry.includes('[') && entry.includes(']'));
}

/** Thrown for a pattern Go's filepath.Match rejects with ErrBadPattern, or one over the length cap. */
export class BadPatternError extends Error {
  override readonly name = 'BadPatternError';
}

/** One character of the name: a literal, any character but '/', or a class of code-point ranges. */
type CharToken =
  { kind: 'char'; c: string } | { kind: 'any' } | { kind: 'class'; negated: boolean; ranges: [number, number][] };

/** A run of character tokens, preceded by a star or not. */
interface Chunk {
  star: boolean;
  chars: CharToken[];
}

export interface Glob {
  test(name: string): boolean;
}

/** Parses and validates a pattern once; the result matches whole names. */
export function compileGlob(pattern: string): Glob {
  const chunks = parse(pattern);
  return { test: (name) => matchChunks(chunks, Array.from(name)) };
}

function parse(pattern: string): Chunk[] {
  // Code points, not UTF-16 units: '?' and class ranges work on characters as Go's runes do.
  const chars = Array.from(pattern);
  if (chars.length > MAX_PATTERN_LENGTH)
    throw new BadPatternError(`pattern longer than ${MAX_PATTERN_LENGTH} characters`);
  const bad = (why: string): BadPatternError => new BadPatternError(`${why} in pattern "${pattern}"`);
  let pos = 0;

  // One member of a class: a character, possibly escaped. Go refuses an unescaped '-' or ']' here and
  // requires the class to continue after it.
  const classChar = (): number => {
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
    return c.codePointAt(0) as number;
  };

  const chunks: Chunk[] = [];
  let chunk: Chunk = { star: false, chars: [] };
  while (pos < chars.length) {
    const c = chars[pos] as string;
    pos++;
    if (c === '*') {
      // Consecutive stars are one star.
      if (chunk.chars.length) {
        chunks.push(chunk);
        chunk = { star: true, chars: [] };
      } else {
        chunk.star = true;
      }
    } else if (c === '?') {
      chunk.chars.push({ kind: 'any' });
    } else if (c === '\\') {
      const escaped = chars[pos];
      if (escaped === undefined) throw bad("trailing '\\'");
      chunk.chars.push({ kind: 'char', c: escaped });
      pos++;
    } else if (c === '[') {
      const negated = chars[pos] === '^';
      if (negated) pos++;
      const ranges: [number, number][] = [];
      do {
        const lo = classChar();
        let hi = lo;
        if (chars[pos] === '-') {
          pos++;
          hi = classChar();
        }
        ranges.push([lo, hi]);
      } while (chars[pos] !== ']');
      pos++;
      chunk.chars.push({ kind: 'class', negated, ranges });
    } else {
      chunk.chars.push({ kind: 'char', c });
    }
  }
  chunks.push(chunk);
  return chunks;
}

function matchChar(token: CharToken, c: string): boolean {
  if (token.kind === 'char') return token.c === c;
  if (c === '/') return false;
  if (token.kind === 'any') return true;
  const code = c.codePointAt(0) as number;
  // Go accepts an inverted range and lets it match nothing.
  const inClass = token.ranges.some(([lo, hi]) => lo <= code && code <= hi);
  return inClass !== token.negated;
}

/** Whether the chunk's characters match the name at `at` (a chunk is a fixed number of characters). */
function matchesAt(chunk: Chunk, name: string[], at: number): boolean {
  if (at + chunk.chars.length > name.length) return false;
  return chunk.chars.every((token, i) => matchChar(token, name[at + i] as string));
}

/**
 * Go's filepath.Match loop: each chunk takes the leftmost place its star allows (a star never spans '/'),
 * and the last chunk must end the name. Earlier chunks are never revisited, which is what keeps it linear
 * in the number of chunks.
 */
function matchChunks(chunks: Chunk[], name: string[]): boolean {
  let at = 0;
  for (let i = 0; i < chunks.length; i++) {
    const chunk = chunks[i] as Chunk;
    const last = i === chunks.length - 1;
    if (chunk.star && chunk.chars.length === 0) return !name.slice(at).includes('/');
    const fits = (start: number) =>
      matchesAt(chunk, name, start) && (!last || start + chunk.chars.length === name.length);
    let start = at;
    if (!fits(start)) {
      if (!chunk.star) return false;
      start = -1;
      for (let skip = at; skip < name.length && name[skip] !== '/'; skip++) {
        if (fits(skip + 1)) {
          start = skip + 1;
          break;
        }
      }
      if (start < 0) return false;
    }
    at = start + chunk.chars.length;
  }
  return at === name.length;
}
