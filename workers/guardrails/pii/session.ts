import { PII_CATEGORIES, type PiiCategory, type PiiCounts, PLACEHOLDER_LABELS } from "./categories";
import { type Dispatch, dispatchFor } from "./detectors";
import { type Actions, Scanner, TextStream } from "./scanner";

interface Entry {
  readonly value: string;
  readonly placeholder: string;
  /** Created while redacting the request: the caller's own value, which may be restored. */
  readonly fromRequest: boolean;
  /** False once the same placeholder also turned up literally in the request. */
  restorable: boolean;
}

/** What a session did, for execution records: counts per category, never a value. */
export interface PiiReport {
  /** Values replaced in the request. */
  request: PiiCounts;
  /** Values the model produced that were replaced in its answer. */
  response: PiiCounts;
  /** Placeholders put back to the caller's values in the answer. */
  restored: number;
  /** Every category that was found anywhere. */
  categories: PiiCategory[];
}

/**
 * The mapping of one request: value ↔ placeholder, both ways, in memory only. Placeholders are
 * numbered per category in order of first appearance, and a value keeps its placeholder for the
 * whole request.
 */
export class Mapping {
  readonly dispatch: Dispatch;
  private readonly byValue = new Map<string, Entry>();
  private readonly byPlaceholder = new Map<string, Entry>();
  /** Placeholder-shaped text the caller wrote itself: never handed out, never restored. */
  private readonly literal = new Set<string>();
  private readonly next: Partial<Record<PiiCategory, number>> = {};
  readonly request: PiiCounts = {};
  readonly response: PiiCounts = {};
  restored = 0;

  constructor(categories: readonly PiiCategory[] = PII_CATEGORIES) {
    this.dispatch = dispatchFor(categories);
  }

  private entry(category: PiiCategory, value: string, fromRequest: boolean): Entry {
    const known = this.byValue.get(value);
    if (known) return known;
    let n = this.next[category] ?? 0;
    let placeholder: string;
    do placeholder = `[${PLACEHOLDER_LABELS[category]}_${++n}]`;
    while (this.literal.has(placeholder) || this.byPlaceholder.has(placeholder));
    this.next[category] = n;
    const entry: Entry = { value, placeholder, fromRequest, restorable: true };
    this.byValue.set(value, entry);
    this.byPlaceholder.set(placeholder, entry);
    return entry;
  }

  /** pre_call: every value becomes its placeholder; literal placeholders are set aside. */
  readonly redact: Actions = {
    value: (category, value) => {
      this.request[category] = (this.request[category] ?? 0) + 1;
      return this.entry(category, value, true).placeholder;
    },
    placeholder: (text) => {
      this.literal.add(text);
      const taken = this.byPlaceholder.get(text);
      // The caller wrote a placeholder we had already handed out: the model's use of it is ambiguous.
      if (taken) taken.restorable = false;
      return text;
    },
  };

  /**
   * post_call and during_call. Values the model produced are replaced (and stay replaced);
   * with `restore`, the caller's own values come back in place of their placeholders. `count` is
   * off where an event repeats text that was already counted (a stream's final events).
   */
  answer(restore: boolean, count: boolean): Actions {
    return {
      value: (category, value) => {
        const entry = this.entry(category, value, false);
        if (restore && entry.fromRequest && entry.restorable) return value;
        if (count) this.response[category] = (this.response[category] ?? 0) + 1;
        return entry.placeholder;
      },
      placeholder: (text) => {
        const entry = this.byPlaceholder.get(text);
        if (!restore || !entry?.fromRequest || !entry.restorable) return text;
        if (count) this.restored++;
        return entry.value;
      },
    };
  }

  report(): PiiReport {
    const categories = PII_CATEGORIES.filter((c) => this.request[c] || this.response[c]);
    return {
      request: { ...this.request },
      response: { ...this.response },
      restored: this.restored,
      categories,
    };
  }
}

/** Whole strings, one way of processing: plain text, or JSON text (tool-call arguments). */
export class StringRewriter {
  private readonly plain: Scanner;
  private readonly jsonText: Scanner;

  constructor(
    readonly mapping: Mapping,
    readonly actions: Actions,
  ) {
    this.plain = new Scanner(mapping.dispatch, actions, false);
    this.jsonText = new Scanner(mapping.dispatch, actions, true);
  }

  /** The processed text; the very same string when nothing changed. */
  text(s: string): string {
    this.plain.reset();
    this.plain.run(s, 0, true);
    return this.plain.out;
  }

  json(s: string): string {
    this.jsonText.reset();
    this.jsonText.run(s, 0, true);
    return this.jsonText.out;
  }

  /** A text that arrives in chunks. */
  stream(json: boolean, keepText = false): TextStream {
    return new TextStream(new Scanner(this.mapping.dispatch, this.actions, json), keepText);
  }
}
