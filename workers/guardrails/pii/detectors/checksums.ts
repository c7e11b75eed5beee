// The check digits that tell a real card or IBAN from a run of digits that merely looks like one.

/** Luhn (ISO/IEC 7812) over the digits of `s` between `from` and `to`, other characters skipped. */
export function luhnValid(s: string, from = 0, to = s.length): boolean {
  let sum = 0;
  let double = false;
  for (let k = to - 1; k >= from; k--) {
    let d = s.charCodeAt(k) - 48;
    if (d < 0 || d > 9) continue;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/**
 * ISO 13616 / ISO 7064 mod-97-10 over the IBAN in `s` between `from` and `to`: capitals and digits,
 * spaces skipped.
 */
export function ibanChecksumValid(s: string, from = 0, to = s.length): boolean {
  // The country code and check digits move to the end; letters count as 10 (A) to 35 (Z).
  let rest = mod97(s, from + 4, to, 0);
  rest = mod97(s, from, from + 4, rest);
  return rest === 1;
}

function mod97(s: string, from: number, to: number, rest: number): number {
  for (let k = from; k < to; k++) {
    const c = s.charCodeAt(k);
    if (c === 32) continue;
    rest = c <= 57 ? (rest * 10 + c - 48) % 97 : (rest * 100 + c - 55) % 97;
  }
  return rest;
}
