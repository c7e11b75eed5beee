import { isObject, type Json, responsesInstructions, responsesItem, responsesOutput, Walk } from "../bodies";
import type { StringRewriter } from "../session";
import { type PiiStreamAdapter, Streams } from "./adapter";

// OpenAI Responses: `response.*` events.

interface PartMeta {
  /** The delta event type that carries this stream's text. */
  type: string;
  item_id: unknown;
  output_index: number;
  content_index?: number;
  json: boolean;
}

const OUTPUT_INDEX = 1 << 12;
const partKey = (output: number, content: number) => output * OUTPUT_INDEX + content;
/** Function-call arguments and custom tool input are per item: the last content slot keeps them apart. */
const itemKey = (output: number) => output * OUTPUT_INDEX + OUTPUT_INDEX - 1;

interface TextEvents {
  /** The `*.done` event that repeats the text whole, and its field. */
  done: string;
  field: string;
  json: boolean;
  /** Per item (tool input) rather than per content part. */
  perItem: boolean;
}

/** The delta events that carry text. */
const DELTAS = new Map<string, TextEvents>([
  [
    "response.output_text.delta",
    { done: "response.output_text.done", field: "text", json: false, perItem: false },
  ],
  [
    "response.refusal.delta",
    { done: "response.refusal.done", field: "refusal", json: false, perItem: false },
  ],
  [
    "response.function_call_arguments.delta",
    { done: "response.function_call_arguments.done", field: "arguments", json: true, perItem: true },
  ],
  [
    "response.custom_tool_call_input.delta",
    { done: "response.custom_tool_call_input.done", field: "input", json: false, perItem: true },
  ],
]);
const DONE = new Map([...DELTAS.values()].map((d) => [d.done, d]));

/**
 * One text stream per content part (`output_text`, `refusal`) and per tool call item (arguments as
 * JSON text, custom tool input as text). Delta events keep their place (with `delta: ""` when held
 * back whole, so sequence numbers stay contiguous). Held text goes out as one more delta just before
 * the first event that ends its part (`*.done`, `content_part.done`, `output_item.done`,
 * `response.completed`); every later event's sequence number moves up by one per such delta. The
 * final events repeat whole texts: those take the stream's processed text, and items that came
 * whole are processed once. Reasoning summaries pass untouched.
 */
export class ResponsesStreamAdapter implements PiiStreamAdapter {
  lastUnchanged = true;
  private readonly streams: Streams<PartMeta>;
  /**
   * Texts processed so far, in → out: a stream's whole text once it ends, and whatever a final event
   * brought that no delta did. The events that repeat them need no second scan, and nothing is
   * counted twice.
   */
  private readonly known = { text: new Map<string, string>(), json: new Map<string, string>() };
  /** Extra events inserted so far: later sequence numbers move up by this much. */
  private shift = 0;
  /** The last sequence number sent, for extra events at the end. */
  private sequence = -1;

  constructor(
    private readonly rw: StringRewriter,
    /** Same mapping and restore setting, counting off: for the request's instructions a Response repeats. */
    private readonly echo: StringRewriter,
  ) {
    this.streams = new Streams(rw);
  }

  event(event: Json): Json[] {
    this.lastUnchanged = true;
    if (typeof event.sequence_number === "number") {
      if (this.shift > 0) {
        event.sequence_number += this.shift;
        this.lastUnchanged = false;
      }
      this.sequence = event.sequence_number;
    }
    const type = event.type as string;
    const output = typeof event.output_index === "number" ? event.output_index : 0;
    const delta = DELTAS.get(type);
    if (delta) {
      const text = event.delta;
      if (typeof text !== "string" || text === "") return [event];
      const content = typeof event.content_index === "number" ? event.content_index : 0;
      const key = delta.perItem ? itemKey(output) : partKey(output, content);
      const stream =
        this.streams.open.get(key)?.stream ??
        this.streams.get(
          key,
          delta.json,
          (): PartMeta => ({
            type,
            item_id: event.item_id,
            output_index: output,
            content_index: delta.perItem ? undefined : content,
            json: delta.json,
          }),
          true,
        );
      const out = stream.push(text);
      if (out !== text) {
        event.delta = out;
        this.lastUnchanged = false;
      }
      if (Array.isArray(event.logprobs) && event.logprobs.length > 0) {
        event.logprobs = [];
        this.lastUnchanged = false;
      }
      return [event];
    }
    const done = DONE.get(type);
    if (done) {
      const content = typeof event.content_index === "number" ? event.content_index : 0;
      const key = done.perItem ? itemKey(output) : partKey(output, content);
      return this.finish([key], event, (w) => {
        if (done.json) w.json(event, done.field);
        else w.text(event, done.field);
        w.drop(event, "logprobs", []);
      });
    }
    switch (type) {
      case "response.content_part.added":
      case "response.content_part.done": {
        const content = typeof event.content_index === "number" ? event.content_index : 0;
        const keys = type.endsWith("done") ? [partKey(output, content)] : [];
        return this.finish(keys, event, (w) => {
          // A part is an item's content: the item walker knows its fields.
          if (isObject(event.part)) responsesItem(w, { type: "message", content: [event.part] });
        });
      }
      case "response.output_item.added":
      case "response.output_item.done": {
        const keys = type.endsWith("done") ? this.keysOf(output) : [];
        return this.finish(keys, event, (w) => {
          if (isObject(event.item)) responsesItem(w, event.item);
        });
      }
      case "response.created":
      case "response.in_progress":
      case "response.queued":
      case "response.completed":
      case "response.incomplete":
      case "response.failed": {
        const keys =
          type === "response.created" || type === "response.in_progress" ? [] : [...this.streams.open.keys()];
        return this.finish(keys, event, (w, echo) => {
          if (!isObject(event.response)) return;
          responsesOutput(w, event.response);
          responsesInstructions(echo, event.response);
        });
      }
      default:
        return [event];
    }
  }

  private keysOf(output: number): number[] {
    const keys: number[] = [];
    for (const key of this.streams.open.keys()) if (Math.floor(key / OUTPUT_INDEX) === output) keys.push(key);
    return keys;
  }

  /**
   * Ends these streams: their held text goes out as delta events before `event`, and their whole
   * text in → out is remembered; then `rewrite` brings `event`'s repeated text in line.
   */
  private finish(keys: number[], event: Json, rewrite: (w: Walk, echo: Walk) => void): Json[] {
    const out = this.release(keys, event);
    const w = new Walk(this.rw, this.known);
    const echo = new Walk(this.echo, this.known);
    rewrite(w, echo);
    if (w.changed || echo.changed) this.lastUnchanged = false;
    out.push(event);
    return out;
  }

  /**
   * Flushes streams; returns the extra delta events, numbered before `next` (which moves up), or
   * after the last event sent when the stream has ended (`next` null).
   */
  private release(keys: number[], next: Json | null): Json[] {
    const out: Json[] = [];
    for (const key of keys) {
      const entry = this.streams.open.get(key);
      if (!entry) continue;
      this.streams.open.delete(key);
      const { stream, meta } = entry;
      const tail = stream.flush();
      (meta.json ? this.known.json : this.known.text).set(stream.input, stream.output);
      if (tail === "") continue;
      const extra: Json = { type: meta.type, item_id: meta.item_id, output_index: meta.output_index };
      if (meta.content_index !== undefined) extra.content_index = meta.content_index;
      extra.delta = tail;
      if (meta.type === "response.output_text.delta") extra.logprobs = [];
      if (next) {
        if (typeof next.sequence_number === "number") {
          extra.sequence_number = next.sequence_number;
          this.sequence = next.sequence_number += 1;
          this.shift++;
        }
      } else if (this.sequence >= 0) extra.sequence_number = ++this.sequence;
      out.push(extra);
    }
    if (out.length > 0) this.lastUnchanged = false;
    return out;
  }

  end(): Json[] {
    this.lastUnchanged = false;
    return this.release([...this.streams.open.keys()], null);
  }
}
