import { at, before, C, digitRun, isAlnum, isDigit, isHex, isWord, MORE, NO, PENDING } from "../chars";

/** How far back the version rule looks; the scanner keeps at least this much text behind a chunk. */
export const VERSION_LOOKBACK = 24;
const VERSION_WORD =
  /(?:^|[^A-Za-z0-9_])(?:v|ver|version|rel|release|build|rev|revision|firmware|fw|update|patch)\.?\s*[:=#]?\s*$/i;

/** Reads one decimal octet 0–255 without leading zeros; returns its end, NO or MORE. */
function octet(s: string, p: number, final: boolean): number {
  const run = digitRun(s, p, 3, final);
  if (run === MORE) return MORE;
  if (run === 0 || run > 3) return NO;
  if (run > 1 && s.charCodeAt(p) === 48) return NO;
  const v = run === 1 ? s.charCodeAt(p) - 48 : Number(s.slice(p, p + run));
  return v <= 255 ? p + run : NO;
}

/** Four octets from `p`, without looking at what follows; returns the end, NO or MORE. */
function dottedQuad(s: string, p: number, final: boolean): number {
  let q = p;
  for (let k = 0; k < 4; k++) {
    if (k > 0) {
      const dot = at(s, q, final);
      if (dot === PENDING) return MORE;
      if (dot !== C.DOT) return NO;
      q++;
    }
    q = octet(s, q, final);
    if (q < 0) return q;
  }
  return q;
}

/**
 * IPv4 addresses: four octets 0–255 without leading zeros. A dotted quad is not an address when
 * it is part of a longer dotted run (`1.2.3.4.5`, `a.1.2.3.4`), glued to a word (`v1.2.3.4`), or
 * follows a version word (`version 10.0.0.1`, `build: 1.2.3.4`, `v 1.2.3.4`, `rel. 2.0.0.1`):
 * version strings have the same shape, and what precedes them is the only tell.
 */
export function matchIpv4(s: string, i: number, final: boolean): number {
  if (before(s, i) === C.DOT) return NO;
  const end = dottedQuad(s, i, final);
  if (end < 0) return end;
  const c = at(s, end, final);
  if (c === PENDING) return MORE;
  if (isWord(c)) return NO;
  if (c === C.DOT) {
    const d = at(s, end + 1, final);
    if (d === PENDING) return MORE;
    if (isAlnum(d)) return NO;
  }
  if (VERSION_WORD.test(s.slice(Math.max(0, i - VERSION_LOOKBACK), i))) return NO;
  return end;
}

/**
 * IPv6 addresses: eight groups of 1–4 hex digits, or fewer around one `::`, optionally ending in a
 * dotted quad (`::ffff:192.0.2.1`). Clock times (`10:30:00`) and MAC addresses have too few groups;
 * a compressed form of one or two groups must hold a digit, so `Foo::Bad` in code is left alone.
 */
export function matchIpv6(s: string, i: number, final: boolean): number {
  const prev = before(s, i);
  if (prev === C.COLON) return NO;
  let p = i;
  let groups = 0;
  let compressed = false;
  let digit = false;
  if (s.charCodeAt(p) === C.COLON) {
    const c = at(s, p + 1, final);
    if (c === PENDING) return MORE;
    if (c !== C.COLON) return NO;
    compressed = true;
    p += 2;
  }
  for (;;) {
    const start = p;
    let c = at(s, p, final);
    while (c !== PENDING && isHex(c) && p - start <= 4) {
      if (isDigit(c)) digit = true;
      c = at(s, ++p, final);
    }
    if (c === PENDING) return MORE;
    const length = p - start;
    if (length > 4) return NO;
    if (length === 0) break; // only right after "::"
    if (c === C.DOT) {
      const d = at(s, p + 1, final);
      if (d === PENDING) return MORE;
      if (!isDigit(d)) {
        groups++; // a full stop after the address
        break;
      }
      // An embedded IPv4 takes the place of the last two groups.
      if (groups > 6) return NO;
      const end = dottedQuad(s, start, final);
      if (end === MORE) return MORE;
      if (end === NO) return NO;
      groups += 2;
      p = end;
      break;
    }
    groups++;
    if (c !== C.COLON) break;
    const d = at(s, p + 1, final);
    if (d === PENDING) return MORE;
    if (d === C.COLON) {
      if (compressed) return NO;
      compressed = true;
      p += 2;
    } else if (isHex(d)) {
      p++;
    } else break;
  }
  if (compressed ? groups > 7 : groups !== 8) return NO;
  if (compressed && groups <= 2 && !digit) return NO;
  const c = at(s, p, final);
  if (c === PENDING) return MORE;
  if (isWord(c)) return NO;
  if (c === C.DOT) {
    const d = at(s, p + 1, final);
    if (d === PENDING) return MORE;
    if (isAlnum(d)) return NO;
  }
  return p;
}
