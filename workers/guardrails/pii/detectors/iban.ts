import { at, C, isDigit, isUpper, isWord, MORE, NO, PENDING } from "../chars";
import { ibanChecksumValid } from "./checksums";

// IBAN length per country, from the SWIFT IBAN registry: country code, then length.
const REGISTRY =
  "AD24AE23AL28AT20AZ28BA20BE16BG22BH22BI27BR29BY28CH21CR22CY28CZ24DE22DJ27DK18DO28EE20EG29ES24FI18" +
  "FK18FO18FR27GB22GE22GI23GL18GR27GT28HR21HU28IE22IL23IQ23IS26IT27JO30KW30KZ20LB28LC32LI21LT20LU20" +
  "LV21LY25MC27MD24ME22MK19MN20MR27MT31MU30NI28NL18NO15OM23PK24PL28PS29PT25QA29RO24RS22RU33SA24SC31" +
  "SD18SE24SI19SK24SM27SO23ST25SV28TL23TN24TR26UA29VA22VG24XK20YE30";
const LENGTHS = new Map<string, number>();
for (let k = 0; k < REGISTRY.length; k += 4)
  LENGTHS.set(REGISTRY.slice(k, k + 2), Number(REGISTRY.slice(k + 2, k + 4)));

const isIbanChar = (c: number): boolean => isUpper(c) || isDigit(c);

/**
 * IBANs in capitals, bare (`DE89370400440532013000`) or printed in groups of four
 * (`DE89 3704 0044 0532 0130 00`): a known country code, exactly that country's length, and the
 * mod-97 check.
 */
export function matchIban(s: string, i: number, final: boolean): number {
  for (let k = 1; k < 4; k++) {
    const c = at(s, i + k, final);
    if (c === PENDING) return MORE;
    if (k === 1 ? !isUpper(c) : !isDigit(c)) return NO;
  }
  const length = LENGTHS.get(s.slice(i, i + 2));
  if (length === undefined) return NO;
  let p = i + 4;
  const c4 = at(s, p, final);
  if (c4 === PENDING) return MORE;
  const spaced = c4 === C.SPACE;
  for (let n = 4; n < length; n++) {
    if (spaced && n % 4 === 0) {
      const space = at(s, p, final);
      if (space === PENDING) return MORE;
      if (space !== C.SPACE) return NO;
      p++;
    }
    const c = at(s, p, final);
    if (c === PENDING) return MORE;
    if (!isIbanChar(c)) return NO;
    p++;
  }
  const after = at(s, p, final);
  if (after === PENDING) return MORE;
  if (isWord(after)) return NO;
  return ibanChecksumValid(s, i, p) ? p : NO;
}
