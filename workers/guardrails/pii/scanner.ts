import type { PiiCategory } from "./categories";
import { before, C, isWord, MORE, NO } from "./chars";
import type { Dispatch } from "./detectors";
import { VERSION_LOOKBACK } from "./detectors/ip";
import { matchPlaceholder } from "./detectors/placeholder";

/**
 * What the scanner writes for what it finds; each answer is either the found text itself (keep
 * it) or its replacement.
 */
export interface Actions {
  /** A detected value: its placeholder, or the value itself. */
  value(category: PiiCategory, value: string): string;
  /** A placeholder in the text: the value it stands for, or the placeholder itself. */
  placeholder(text: string): string;
}

/**
 * How much already-scanned text a stream keeps behind its pending text: the detectors look back
 * at most this far (two characters for joiners, VERSION_LOOKBACK for version words), so a chunked
 * scan sees the same context as a whole one.
 */
export const CONTEXT = Math.max(VERSION_LOOKBACK, 2) + 8;

// JSON lexer states while inside an escape: the letter after "\", then the four digits of "\u".
const ESCAPE_LETTER = 5;

function jsonEscaped(value: string): string {
  for (let k = 0; k < value.length; k++) {
    const c = value.charCodeAt(k);
    if (c < 32 || c === C.QUOTE || c === C.BACKSLASH) return JSON.stringify(value).slice(1, -1);
  }
  return value;
}

/**
 * Finds values and placeholders in text, left to right, and writes the text with them replaced.
 *
 * Anchors are the places where a value may start: a character some enabled detector starts with,
 * not glued to a word character before it (a placeholder's `[` anchors anywhere). At each anchor
 * every detector answers: the end of its match, NO, or MORE when the answer depends on text that
 * has not arrived. The longest match wins (the first detector on a tie), and scanning resumes
 * after it. A MORE stops the scan at that anchor: everything before it is final, everything from
 * it is held until more text comes (a stream) or the text ends (`final`, which never yields MORE).
 * Because every decision depends only on text up to where the detector stopped reading, plus at
 * most CONTEXT characters before the anchor, a text scanned in chunks comes out exactly as the
 * same text scanned whole.
 *
 * In JSON mode (tool-call arguments as JSON text) the scanner follows strings and escapes: an
 * escape sequence never starts a value and ends like a separator (`\njohn@…`), a replacement
 * outside a string is written as a JSON string (a card number given as a bare number), and a
 * restored value inside a string is JSON-escaped. No detector matches `"` or `\`, so a
 * replacement never moves a string boundary.
 */
export class Scanner {
  /** The text the last run produced. */
  out = "";
  private inString = false;
  private escaping = 0;
  private afterEscape = false;

  constructor(
    private readonly dispatch: Dispatch,
    private readonly actions: Actions,
    private readonly json: boolean,
  ) {}

  /** Back to the start of a text (JSON lexer state included). */
  reset(): void {
    this.inString = false;
    this.escaping = 0;
    this.afterEscape = false;
  }

  /**
   * Scans `s` from `from` (the characters before it are context only). Sets `out` to the
   * processed text of `s[from, cut)` and returns `cut`: `s.length` unless a possible value at
   * `cut` is still undecided.
   */
  run(s: string, from: number, final: boolean): number {
    const table = this.dispatch;
    const json = this.json;
    let inString = this.inString;
    let escaping = this.escaping;
    let afterEscape = this.afterEscape;
    let out = "";
    let emitted = from;
    let i = from;
    const n = s.length;
    scan: while (i < n) {
      const c = s.charCodeAt(i);
      if (json) {
        if (escaping > 0) {
          escaping = escaping === ESCAPE_LETTER ? (c === C.u ? 4 : 0) : escaping - 1;
          afterEscape = escaping === 0;
          i++;
          continue;
        }
        if (c === C.QUOTE) {
          inString = !inString;
          afterEscape = false;
          i++;
          continue;
        }
        if (c === C.BACKSLASH && inString) {
          escaping = ESCAPE_LETTER;
          afterEscape = false;
          i++;
          continue;
        }
      }
      let end = NO;
      let category: PiiCategory | null = null;
      if (c === C.LBRACKET) {
        end = matchPlaceholder(s, i, final);
        if (end === MORE) break;
      } else {
        const detectors = c < table.length ? table[c] : undefined;
        if (detectors !== undefined && (afterEscape || !isWord(before(s, i)))) {
          for (let k = 0; k < detectors.length; k++) {
            const detector = detectors[k] as (typeof detectors)[number];
            const r = detector.match(s, i, final);
            if (r === MORE) break scan;
            if (r > end) {
              end = r;
              category = detector.category;
            }
          }
        }
      }
      afterEscape = false;
      if (end === NO) {
        i++;
        continue;
      }
      const found = s.slice(i, end);
      let written: string;
      if (category === null) {
        const value = this.actions.placeholder(found);
        written = value === found || !json ? value : inString ? jsonEscaped(value) : JSON.stringify(value);
      } else {
        const placeholder = this.actions.value(category, found);
        written = placeholder === found || !json || inString ? placeholder : `"${placeholder}"`;
      }
      if (written !== found) {
        out += s.slice(emitted, i) + written;
        emitted = end;
      }
      i = end;
    }
    this.inString = inString;
    this.escaping = escaping;
    this.afterEscape = afterEscape;
    this.out = emitted === from ? s.slice(from, i) : out + s.slice(emitted, i);
    return i;
  }
}

/**
 * One text that arrives in chunks (a content block, a choice's content, a tool call's arguments).
 * Each chunk's text comes out as soon as it is decided: what is held back is only a suffix that
 * may still become a value or a placeholder (typically the last word), bounded by the longest
 * value a detector accepts; `flush` releases it at the end of the text.
 */
export class TextStream {
  /** Kept context + pending text; `start` is where the pending text begins. */
  private buf = "";
  private start = 0;
  /** The whole text in and out, for streams whose final event repeats it (`keepText`). */
  input = "";
  output = "";

  constructor(
    private readonly scanner: Scanner,
    private readonly keepText = false,
  ) {}

  /** A chunk of text in; the part of the text now decided out (possibly ""). */
  push(chunk: string): string {
    if (chunk === "") return "";
    const s = this.buf === "" ? chunk : this.buf + chunk;
    const cut = this.scanner.run(s, this.start, false);
    const out = this.scanner.out;
    const keep = cut > CONTEXT ? cut - CONTEXT : 0;
    this.buf = keep > 0 ? s.slice(keep) : s;
    this.start = cut - keep;
    if (this.keepText) {
      this.input += chunk;
      this.output += out;
    }
    return out;
  }

  /** The end of the text: whatever was held back, decided. */
  flush(): string {
    if (this.start >= this.buf.length) return "";
    const cut = this.scanner.run(this.buf, this.start, true);
    const out = this.scanner.out;
    this.start = cut;
    if (this.keepText) this.output += out;
    return out;
  }

  /** Whether text is held back. */
  get holding(): boolean {
    return this.start < this.buf.length;
  }
}
