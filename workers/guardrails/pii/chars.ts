// Character classes and reads on UTF-16 code units. The detectors walk text by index instead of
// running regular expressions, so that on a stream they can tell "no match" from "not decided yet".

/** The text ends here (a whole string, or a stream's last chunk). */
export const EOF = -1;
/** The text goes on past what has arrived: whoever needs this character has to wait for it. */
export const PENDING = -2;

/** A detector's answer at an anchor: the end of its match, or one of these. */
export const NO = -1;
export const MORE = -2;

/** A detector tries to match at `i`, where the text may start a value. */
export type Matcher = (s: string, i: number, final: boolean) => number;

export const C = {
  TAB: 9,
  SPACE: 32,
  QUOTE: 34,
  HASH: 35,
  PERCENT: 37,
  LPAREN: 40,
  RPAREN: 41,
  PLUS: 43,
  COMMA: 44,
  DASH: 45,
  DOT: 46,
  SLASH: 47,
  COLON: 58,
  AT: 64,
  LBRACKET: 91,
  BACKSLASH: 92,
  RBRACKET: 93,
  UNDERSCORE: 95,
  u: 117,
} as const;

/** The character at `p`, EOF past the end of a final text, PENDING past the end of a stream's. */
export function at(s: string, p: number, final: boolean): number {
  return p < s.length ? s.charCodeAt(p) : final ? EOF : PENDING;
}

/** The character `k` places before `i`, or EOF before the start. */
export function before(s: string, i: number, k = 1): number {
  return i - k >= 0 ? s.charCodeAt(i - k) : EOF;
}

export const isDigit = (c: number): boolean => c >= 48 && c <= 57;
export const isUpper = (c: number): boolean => c >= 65 && c <= 90;
export const isLower = (c: number): boolean => c >= 97 && c <= 122;
export const isAlpha = (c: number): boolean => isUpper(c) || isLower(c);
export const isAlnum = (c: number): boolean => isDigit(c) || isUpper(c) || isLower(c);
export const isHex = (c: number): boolean => isDigit(c) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
/** Latin letters with diacritics (Latin-1 Supplement to Latin Extended-B, less × and ÷). */
export const isLatinLetter = (c: number): boolean => c >= 0xc0 && c <= 0x24f && c !== 0xd7 && c !== 0xf7;
/** Characters that glue onto a value and make it part of a longer token ("x4111…", "4111…_a", "é4111…"). */
export const isWord = (c: number): boolean => isAlnum(c) || c === C.UNDERSCORE || isLatinLetter(c);

/**
 * A number glued on its left to another token by a joiner: "ORD-4111…", "12-345-67-8901",
 * "a.1.2.3.4". Such digits are part of an identifier, not a value of their own.
 */
export function joinedOnLeft(s: string, i: number): boolean {
  const p = before(s, i);
  if (p === C.DASH || p === C.DOT || p === C.SLASH) return isAlnum(before(s, i, 2));
  return false;
}

/**
 * Whether the value ending at `p` goes on into a longer token: a word character, or a joiner
 * followed by a digit ("415-555-0100-22", "4111….50"). Returns MORE while that is not yet known.
 */
export function joinedOnRight(s: string, p: number, final: boolean): boolean | typeof MORE {
  const c = at(s, p, final);
  if (c === PENDING) return MORE;
  if (isWord(c)) return true;
  if (c === C.DASH || c === C.DOT || c === C.COMMA || c === C.SLASH) {
    const d = at(s, p + 1, final);
    if (d === PENDING) return MORE;
    return isDigit(d);
  }
  return false;
}

/**
 * Reads a run of digits from `p`, at most `max` + 1 of them (one more tells "too long").
 * Returns the run's length, or MORE when the run reaches what has not arrived yet.
 */
export function digitRun(s: string, p: number, max: number, final: boolean): number {
  let n = 0;
  for (;;) {
    const c = at(s, p + n, final);
    if (c === PENDING) return MORE;
    if (!isDigit(c)) return n;
    if (++n > max) return n;
  }
}
