import {
  at,
  before,
  C,
  digitRun,
  isDigit,
  isWord,
  joinedOnLeft,
  joinedOnRight,
  MORE,
  NO,
  PENDING,
} from "../chars";

const isSeparator = (c: number): boolean => c === C.SPACE || c === C.DASH || c === C.DOT;

/**
 * International numbers: `+`, a country code, then groups of digits separated by one space, dash
 * or dot, or parenthesised (`+44 (0)20 7946 0958`). E.164 allows 8 to 15 digits in all; `+1`
 * numbers have exactly ten after the country code. When the groups run on past 15 digits the
 * number ends at the longest valid group boundary.
 */
export function matchIntlPhone(s: string, i: number, final: boolean): number {
  let p = i + 1;
  const first = at(s, p, final);
  if (first === PENDING) return MORE;
  if (!isDigit(first) || first === 48) return NO;
  const nanp = first === 49;
  let digits = 0;
  let best = NO;
  for (;;) {
    let run: number;
    let next: number;
    const paren = s.charCodeAt(p) === C.LPAREN;
    if (paren) {
      run = digitRun(s, p + 1, 4, final);
      if (run === MORE) return MORE;
      const close = at(s, p + 1 + run, final);
      if (close === PENDING) return MORE;
      if (run === 0 || run > 4 || close !== C.RPAREN) break;
      next = p + run + 2;
    } else {
      run = digitRun(s, p, 15, final);
      if (run === MORE) return MORE;
      next = p + run;
    }
    digits += run;
    if (digits > 15) break;
    p = next;
    if (digits >= 8 && (!nanp || digits === 11)) best = p;
    const c = at(s, p, final);
    if (c === PENDING) return MORE;
    if (c === C.LPAREN || (paren && isDigit(c))) continue; // "+44 (0)20 …"
    if (isWord(c)) return NO; // "+14155550100abc"
    if (!isSeparator(c)) break;
    const d = at(s, p + 1, final);
    if (d === PENDING) return MORE;
    if (!isDigit(d) && d !== C.LPAREN) break;
    p++;
  }
  return best;
}

/** Reads exactly three digits, the first 2–9 (a NANP area code or exchange). */
function nxx(s: string, p: number, final: boolean): number {
  const run = digitRun(s, p, 3, final);
  if (run === MORE) return MORE;
  if (run !== 3 || s.charCodeAt(p) < 50) return NO;
  return p + 3;
}

/**
 * North American numbers with separators: `415-555-0100`, `415.555.0100`, `415 555 0100`,
 * `(415) 555-0100`, optionally after `1-` or `1 `. Area code and exchange start with 2–9. Ten
 * bare digits are not taken for a phone number: they are as likely an order or account number.
 */
export function matchNanpPhone(s: string, i: number, final: boolean): number {
  const prev = before(s, i);
  if (prev === C.PLUS || prev === C.HASH || joinedOnLeft(s, i)) return NO;
  let p = i;
  let c = s.charCodeAt(p);
  if (c === 49) {
    // A leading 1 is the trunk prefix and must be set apart: "1-415-555-0100".
    c = at(s, p + 1, final);
    if (c === PENDING) return MORE;
    if (!isSeparator(c)) return NO;
    p += 2;
    c = at(s, p, final);
    if (c === PENDING) return MORE;
  }
  if (c === C.LPAREN) {
    const close = nxx(s, p + 1, final);
    if (close < 0) return close;
    c = at(s, close, final);
    if (c === PENDING) return MORE;
    if (c !== C.RPAREN) return NO;
    p = close + 1;
    c = at(s, p, final);
    if (c === PENDING) return MORE;
    if (c === C.SPACE) p++;
  } else {
    const end = nxx(s, p, final);
    if (end < 0) return end;
    c = at(s, end, final);
    if (c === PENDING) return MORE;
    if (!isSeparator(c)) return NO;
    p = end + 1;
  }
  const exchange = nxx(s, p, final);
  if (exchange < 0) return exchange;
  c = at(s, exchange, final);
  if (c === PENDING) return MORE;
  if (!isSeparator(c)) return NO;
  const line = digitRun(s, exchange + 1, 4, final);
  if (line === MORE) return MORE;
  if (line !== 4) return NO;
  const end = exchange + 5;
  const joined = joinedOnRight(s, end, final);
  if (joined === MORE) return MORE;
  return joined ? NO : end;
}
