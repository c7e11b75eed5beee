import { at, isAlnum, isDigit, isLower, isUpper, MORE, NO, PENDING } from "../chars";

const DASH = 45;
const UNDERSCORE = 95;
const MAX_SECRET = 256;

const AWS_PREFIXES = ["AKIA", "ASIA"];

const isBase64Url = (c: number): boolean => isAlnum(c) || c === DASH || c === UNDERSCORE;

/** Whether `s` holds `prefix` at `i`; MORE when the text ends inside what could still be it. */
function startsWith(s: string, i: number, prefix: string, final: boolean): boolean | typeof MORE {
  for (let k = 0; k < prefix.length; k++) {
    const c = at(s, i + k, final);
    if (c === PENDING) return MORE;
    if (c !== prefix.charCodeAt(k)) return false;
  }
  return true;
}

/**
 * The run of token characters from `p`; its end, or MORE while it may go on. Past MAX_SECRET
 * characters it is some other blob (base64 data, a hash chain), not a key.
 */
function tokenEnd(s: string, p: number, isChar: (c: number) => boolean, final: boolean): number {
  let q = p;
  for (;;) {
    const c = at(s, q, final);
    if (c === PENDING) return MORE;
    if (!isChar(c)) return q;
    if (++q - p > MAX_SECRET) return NO;
  }
}

/** `sk-…` keys (OpenAI `sk-…`/`sk-proj-…`, Anthropic `sk-ant-…`): random, so mixed case with digits. */
function openAiOrAnthropic(s: string, i: number, final: boolean): number {
  const prefix = startsWith(s, i, "sk-", final);
  if (prefix !== true) return prefix === MORE ? MORE : NO;
  const end = tokenEnd(s, i + 3, isBase64Url, final);
  if (end < 0 || end - i - 3 < 20) return end === MORE ? MORE : NO;
  // "sk-learn-compatible-estimators" is words, not a key: keys mix cases and digits.
  let upper = false;
  let lower = false;
  let digit = false;
  for (let k = i + 3; k < end; k++) {
    const c = s.charCodeAt(k);
    upper ||= isUpper(c);
    lower ||= isLower(c);
    digit ||= isDigit(c);
  }
  return upper && lower && digit ? end : NO;
}

/** AWS access key ids: `AKIA` (long-term) or `ASIA` (temporary) and 16 capitals or digits. */
function aws(s: string, i: number, final: boolean): number {
  for (const prefix of AWS_PREFIXES) {
    const has = startsWith(s, i, prefix, final);
    if (has === MORE) return MORE;
    if (!has) continue;
    const end = tokenEnd(s, i + 4, isBase64Url, final);
    if (end === MORE) return MORE;
    if (end !== i + 20) return NO;
    for (let k = i + 4; k < end; k++) {
      const c = s.charCodeAt(k);
      if (!isUpper(c) && !isDigit(c)) return NO;
    }
    return end;
  }
  return NO;
}

/** GitHub tokens: `ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_` and 36+ alphanumerics; `github_pat_…`. */
function github(s: string, i: number, final: boolean): number {
  const fine = startsWith(s, i, "github_pat_", final);
  if (fine === MORE) return MORE;
  if (fine) {
    const end = tokenEnd(s, i + 11, isBase64Url, final);
    if (end === MORE) return MORE;
    return end - i - 11 >= 22 ? end : NO;
  }
  const gh = startsWith(s, i, "gh", final);
  if (gh !== true) return gh === MORE ? MORE : NO;
  const kind = at(s, i + 2, final);
  const sep = at(s, i + 3, final);
  if (kind === PENDING || sep === PENDING) return MORE;
  if (sep !== UNDERSCORE || !"pousr".includes(String.fromCharCode(kind))) return NO;
  const end = tokenEnd(s, i + 4, isBase64Url, final);
  if (end === MORE) return MORE;
  if (end - i - 4 < 36) return NO;
  for (let k = i + 4; k < end; k++) if (!isAlnum(s.charCodeAt(k))) return NO;
  return end;
}

/** relay's own API keys: `relay_live_` and 43 base64url characters. */
function relay(s: string, i: number, final: boolean): number {
  const has = startsWith(s, i, "relay_live_", final);
  if (has !== true) return has === MORE ? MORE : NO;
  const end = tokenEnd(s, i + 11, isBase64Url, final);
  if (end === MORE) return MORE;
  return end - i - 11 >= 32 ? end : NO;
}

/** Provider secrets, by their prefix. */
export function matchSecret(s: string, i: number, final: boolean): number {
  switch (s.charCodeAt(i)) {
    case 115: // s
      return openAiOrAnthropic(s, i, final);
    case 65: // A
      return aws(s, i, final);
    case 103: // g
      return github(s, i, final);
    case 114: // r
      return relay(s, i, final);
    default:
      return NO;
  }
}

/** The first characters at which a secret can start. */
export const SECRET_ANCHORS = "sAgr";
