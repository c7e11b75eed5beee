import { at, before, C, digitRun, joinedOnLeft, joinedOnRight, MORE, NO, PENDING } from "../chars";

function value(s: string, from: number, length: number): number {
  let n = 0;
  for (let k = from; k < from + length; k++) n = n * 10 + s.charCodeAt(k) - 48;
  return n;
}

/**
 * US Social Security numbers written `AAA-GG-SSSS` or `AAA GG SSSS` (one separator, used twice).
 * The SSA never issues area 000, 666 or 900–999, group 00 or serial 0000; 078-05-1120 (printed in
 * a wallet advertisement) and 219-09-9999 (a pamphlet example) were voided. Nine bare digits are not
 * taken for an SSN.
 */
export function matchSsn(s: string, i: number, final: boolean): number {
  if (before(s, i) === C.HASH || joinedOnLeft(s, i)) return NO;
  const area = digitRun(s, i, 3, final);
  if (area === MORE) return MORE;
  if (area !== 3) return NO;
  const sep = at(s, i + 3, final);
  if (sep === PENDING) return MORE;
  if (sep !== C.DASH && sep !== C.SPACE) return NO;
  const group = digitRun(s, i + 4, 2, final);
  if (group === MORE) return MORE;
  if (group !== 2) return NO;
  const sep2 = at(s, i + 6, final);
  if (sep2 === PENDING) return MORE;
  if (sep2 !== sep) return NO;
  const serial = digitRun(s, i + 7, 4, final);
  if (serial === MORE) return MORE;
  if (serial !== 4) return NO;
  const end = i + 11;
  const joined = joinedOnRight(s, end, final);
  if (joined === MORE) return MORE;
  if (joined) return NO;
  const a = value(s, i, 3);
  const g = value(s, i + 4, 2);
  const n = value(s, i + 7, 4);
  if (a === 0 || a === 666 || a >= 900 || g === 0 || n === 0) return NO;
  if ((a === 78 && g === 5 && n === 1120) || (a === 219 && g === 9 && n === 9999)) return NO;
  return end;
}
