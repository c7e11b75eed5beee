import { PII_CATEGORIES, PLACEHOLDER_LABELS } from "../categories";
import { at, C, isDigit, isUpper, MORE, NO, PENDING } from "../chars";

const LABELS = PII_CATEGORIES.map((c) => PLACEHOLDER_LABELS[c]);
const LONGEST = Math.max(...LABELS.map((l) => l.length));
const MAX_DIGITS = 6;

/** Whether some label starts with the `length` capitals at `from`. */
function labelPrefix(s: string, from: number, length: number): boolean {
  return LABELS.some((label) => {
    if (label.length < length) return false;
    for (let k = 0; k < length; k++) if (label.charCodeAt(k) !== s.charCodeAt(from + k)) return false;
    return true;
  });
}

function isLabel(s: string, from: number, length: number): boolean {
  return LABELS.some((label) => label.length === length && s.startsWith(label, from));
}

/**
 * A placeholder such as `[EMAIL_1]`, wherever it stands (a model may glue one to a word). Only
 * the labels pii-redact writes are recognised, so `[Note_1]` or `[TODO_2]` are plain text.
 */
export function matchPlaceholder(s: string, i: number, final: boolean): number {
  let p = i + 1;
  let c = at(s, p, final);
  while (isUpper(c)) {
    if (p - i > LONGEST || !labelPrefix(s, i + 1, p - i)) return NO;
    c = at(s, ++p, final);
  }
  if (c === PENDING) return MORE; // every capital so far was checked against the labels
  if (c !== C.UNDERSCORE || !isLabel(s, i + 1, p - i - 1)) return NO;
  const digits = ++p;
  c = at(s, p, final);
  if (c === 48) return NO; // counters start at 1
  while (isDigit(c)) {
    if (p - digits >= MAX_DIGITS) return NO;
    c = at(s, ++p, final);
  }
  if (c === PENDING) return MORE;
  return c === C.RBRACKET && p > digits ? p + 1 : NO;
}
