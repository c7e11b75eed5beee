import type { PiiCategory } from "../categories";
import type { Matcher } from "../chars";
import { matchCard } from "./card";
import { matchEmail } from "./email";
import { matchIban } from "./iban";
import { matchIpv4, matchIpv6 } from "./ip";
import { matchIntlPhone, matchNanpPhone } from "./phone";
import { matchSecret, SECRET_ANCHORS } from "./secret";
import { matchSsn } from "./ssn";

export interface Detector {
  category: PiiCategory;
  match: Matcher;
  /** The characters a value of this kind can start with. */
  anchors: string;
}

const DIGITS = "0123456789";
const LATIN = Array.from({ length: 0x250 - 0xc0 }, (_, k) => String.fromCharCode(0xc0 + k))
  .filter((c) => c !== "×" && c !== "÷")
  .join("");
const UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const LOWER = "abcdefghijklmnopqrstuvwxyz";

/** In order of precedence: when two match the same text at the same place, the first wins. */
export const DETECTORS: readonly Detector[] = [
  { category: "secret", match: matchSecret, anchors: SECRET_ANCHORS },
  { category: "email", match: matchEmail, anchors: DIGITS + UPPER + LOWER + LATIN },
  { category: "iban", match: matchIban, anchors: UPPER },
  { category: "card", match: matchCard, anchors: "23456" },
  { category: "ssn", match: matchSsn, anchors: DIGITS },
  { category: "phone", match: matchIntlPhone, anchors: "+" },
  { category: "phone", match: matchNanpPhone, anchors: `(${DIGITS}` },
  { category: "ip", match: matchIpv4, anchors: DIGITS },
  { category: "ip", match: matchIpv6, anchors: `:${DIGITS}abcdefABCDEF` },
];

/** For each character up to Latin Extended-B, the detectors that may start there. */
export type Dispatch = readonly (readonly Detector[] | undefined)[];

const cache = new Map<string, Dispatch>();

/** The dispatch table for a set of categories, built once per distinct set. */
export function dispatchFor(categories: readonly PiiCategory[]): Dispatch {
  const key = [...categories].sort().join(",");
  let table = cache.get(key);
  if (!table) {
    const rows: Detector[][] = [];
    for (const detector of DETECTORS) {
      if (!categories.includes(detector.category)) continue;
      for (let k = 0; k < detector.anchors.length; k++) {
        const code = detector.anchors.charCodeAt(k);
        rows[code] ??= [];
        rows[code].push(detector);
      }
    }
    table = Array.from({ length: 0x250 }, (_, code) => rows[code]);
    cache.set(key, table);
  }
  return table;
}
