import { at, C, digitRun, isDigit, joinedOnLeft, joinedOnRight, MORE, NO, PENDING } from "../chars";
import { luhnValid } from "./checksums";

const MAX_GROUPS = 8;
// Scratch space: matching is synchronous and never re-entered, so one pair serves every call.
const ends = new Int32Array(MAX_GROUPS);
const counts = new Int32Array(MAX_GROUPS);

/** The first `n` digits from `i` as a number, separators skipped. */
function leading(s: string, i: number, n: number): number {
  let v = 0;
  for (let k = i; n > 0 && k < s.length; k++) {
    const c = s.charCodeAt(k);
    if (!isDigit(c)) continue;
    v = v * 10 + c - 48;
    n--;
  }
  return v;
}

/** Issuer prefixes of the card networks in use: Visa, Mastercard, Amex, Diners, JCB, Discover, UnionPay. */
function knownIssuer(s: string, i: number): boolean {
  const two = leading(s, i, 2);
  const four = leading(s, i, 4);
  switch (Math.floor(two / 10)) {
    case 2:
      return four >= 2221 && four <= 2720;
    case 3:
      return two === 30 || (two >= 34 && two <= 38);
    case 4:
      return true;
    case 5:
      return two >= 51 && two <= 55;
    case 6:
      return four === 6011 || two === 62 || two === 64 || two === 65;
    default:
      return false;
  }
}

/**
 * Payment card numbers: 13–19 digits, bare or in groups of 3–8 split by one kind of separator
 * (space or dash), from a known issuer range and passing the Luhn check. A longer run of digits
 * is not a card; when groups run on past a card, the card ends at the longest group boundary
 * whose digits pass.
 */
export function matchCard(s: string, i: number, final: boolean): number {
  if (joinedOnLeft(s, i)) return NO;
  let groups = 0;
  let separator = 0;
  let digits = 0;
  let first = 0;
  let p = i;
  for (;;) {
    const run = digitRun(s, p, 19, final);
    if (run === MORE) return MORE;
    if (digits + run > 19) {
      if (groups === 0) return NO;
      break;
    }
    if (groups === 0) first = run;
    else if (run < 3 || run > 8 || first < 3 || first > 8) break;
    p += run;
    digits += run;
    ends[groups] = p;
    counts[groups] = digits;
    if (++groups === MAX_GROUPS) break;
    const c = at(s, p, final);
    if (c === PENDING) return MORE;
    if ((c !== C.SPACE && c !== C.DASH) || (separator !== 0 && c !== separator)) break;
    const d = at(s, p + 1, final);
    if (d === PENDING) return MORE;
    if (!isDigit(d)) break;
    separator = c;
    p++;
  }
  if (!knownIssuer(s, i)) return NO;
  for (let k = groups - 1; k >= 0; k--) {
    const end = ends[k] as number;
    if ((counts[k] as number) < 13) return NO;
    if (!luhnValid(s, i, end)) continue;
    const joined = joinedOnRight(s, end, final);
    if (joined === MORE) return MORE;
    return joined ? NO : end;
  }
  return NO;
}
