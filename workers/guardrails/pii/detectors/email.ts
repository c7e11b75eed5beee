import { at, C, isAlnum, isAlpha, isLatinLetter, MORE, NO, PENDING } from "../chars";

const MAX_LOCAL = 64;
const MAX_DOMAIN = 253;
const MAX_LABEL = 63;

const isLetter = (c: number): boolean => isAlpha(c) || isLatinLetter(c);
const isLabel = (c: number): boolean => isAlnum(c) || isLatinLetter(c) || c === C.DASH;
const isLocal = (c: number): boolean =>
  isAlnum(c) ||
  isLatinLetter(c) ||
  c === C.DOT ||
  c === C.UNDERSCORE ||
  c === C.PERCENT ||
  c === C.PLUS ||
  c === C.DASH;

/**
 * `local@domain.tld`: the local part of RFC 5321's dot-atoms without quoting, a domain of at least
 * two labels whose last is letters only. A dot after the address ends a sentence and is not part of
 * it. Latin letters with diacritics count as letters (`josé@exemple.fr`, `müller@münchen.de`);
 * other scripts end an address, because Chinese or Japanese text runs into it without a space.
 */
export function matchEmail(s: string, i: number, final: boolean): number {
  let p = i;
  let c: number;
  for (;;) {
    c = at(s, p, final);
    if (c === PENDING) return MORE;
    if (!isLocal(c)) break;
    if (p - i >= MAX_LOCAL) return NO;
    p++;
  }
  if (c !== C.AT || s.charCodeAt(p - 1) === C.DOT) return NO;
  const domain = ++p;
  let labels = 0;
  for (;;) {
    const label = p;
    let letters = true;
    for (;;) {
      c = at(s, p, final);
      if (c === PENDING) return MORE;
      if (!isLabel(c)) break;
      if (!isLetter(c)) letters = false;
      if (p - label >= MAX_LABEL || p - domain >= MAX_DOMAIN) return NO;
      p++;
    }
    const length = p - label;
    if (length === 0 || s.charCodeAt(label) === C.DASH || s.charCodeAt(p - 1) === C.DASH) return NO;
    labels++;
    if (c === C.DOT) {
      const next = at(s, p + 1, final);
      if (next === PENDING) return MORE;
      if (isAlnum(next) || isLatinLetter(next)) {
        p++;
        continue;
      }
    }
    if (labels < 2 || !letters || length < 2) return NO;
    // "a@b.com_x" or "a@b.com@c" is some other token.
    return c === C.UNDERSCORE || c === C.AT ? NO : p;
  }
}
