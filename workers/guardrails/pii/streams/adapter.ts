import type { Json } from "../bodies";
import type { TextStream } from "../scanner";
import type { StringRewriter } from "../session";

/**
 * during_call for one streamed answer. Feed it every parsed event in order; it returns what to
 * send instead: usually the same event (its deltas rewritten in place), sometimes nothing (all of
 * a delta held back), sometimes an extra delta event first (held text released before the part it
 * belongs to ends).
 */
export interface PiiStreamAdapter {
  event(event: Json): Json[];
  /** The upstream stream ended: held text of parts that never finished, as delta events. */
  end(): Json[];
  /**
   * True when the last `event` call returned exactly the event it was given, untouched, so the
   * caller may forward the event's original bytes instead of serialising it again.
   */
  readonly lastUnchanged: boolean;
}

/** The streams of one answer, by a numeric key per format. */
export class Streams<M> {
  readonly open = new Map<number, { stream: TextStream; meta: M }>();

  constructor(private readonly rw: StringRewriter) {}

  /** The stream under `key`, opened on first use (`meta` is only called then). */
  get(key: number, json: boolean, meta: (key: number) => M, keepText = false): TextStream {
    let entry = this.open.get(key);
    if (!entry) {
      entry = { stream: this.rw.stream(json, keepText), meta: meta(key) };
      this.open.set(key, entry);
    }
    return entry.stream;
  }
}
