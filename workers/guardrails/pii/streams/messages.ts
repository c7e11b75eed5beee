import { anthropicMessage, isObject, type Json, Walk } from "../bodies";
import type { StringRewriter } from "../session";
import { type PiiStreamAdapter, Streams } from "./adapter";

// Anthropic Messages: `message_start … message_stop` events.

interface BlockMeta {
  index: number;
  json: boolean;
}

const textBlock = (index: number): BlockMeta => ({ index, json: false });
const jsonBlock = (index: number): BlockMeta => ({ index, json: true });

/**
 * One text stream per content block: `text_delta` as text, `input_json_delta` as JSON text. A delta
 * held back whole is dropped (Anthropic sends no empty deltas); held text goes out as one more
 * delta just before the block's `content_block_stop`. Thinking is signed and passes untouched.
 */
export class MessagesStreamAdapter implements PiiStreamAdapter {
  lastUnchanged = true;
  private readonly streams: Streams<BlockMeta>;

  constructor(private readonly rw: StringRewriter) {
    this.streams = new Streams(rw);
  }

  event(event: Json): Json[] {
    this.lastUnchanged = true;
    const index = typeof event.index === "number" ? event.index : 0;
    switch (event.type) {
      case "content_block_delta": {
        const delta = event.delta;
        if (!isObject(delta)) return [event];
        let field: string;
        let json: boolean;
        if (delta.type === "text_delta") {
          field = "text";
          json = false;
        } else if (delta.type === "input_json_delta") {
          field = "partial_json";
          json = true;
        } else if (delta.type === "citations_delta" && isObject(delta.citation)) {
          // A citation quotes a document of the request whole: no stream of its own.
          const w = new Walk(this.rw);
          w.text(delta.citation, "cited_text");
          if (w.changed) this.lastUnchanged = false;
          return [event];
        } else return [event]; // thinking and signatures are signed
        const text = delta[field];
        if (typeof text !== "string" || text === "") return [event];
        const out = this.streams.get(index, json, json ? jsonBlock : textBlock).push(text);
        if (out === text) return [event];
        this.lastUnchanged = false;
        if (out === "") return [];
        delta[field] = out;
        return [event];
      }
      case "content_block_start": {
        // Blocks start empty; should one not, its text is the first chunk of the block.
        const block = event.content_block;
        if (!isObject(block) || block.type !== "text" || typeof block.text !== "string" || !block.text)
          return [event];
        const out = this.streams.get(index, false, textBlock).push(block.text);
        if (out !== block.text) {
          block.text = out;
          this.lastUnchanged = false;
        }
        return [event];
      }
      case "content_block_stop":
        return this.release(this.streams.open.get(index) ? [index] : [], event);
      case "message_start":
      case "message_delta":
      case "message_stop": {
        // Blocks left open, should there be any, end with the message.
        const out = this.release([...this.streams.open.keys()], event);
        if (event.type === "message_start" && isObject(event.message)) {
          const w = new Walk(this.rw);
          anthropicMessage(w, event.message);
          if (w.changed) this.lastUnchanged = false;
        }
        return out;
      }
      default:
        return [event];
    }
  }

  /** Held text of these blocks as delta events, then `event`. */
  private release(indices: number[], event: Json | null): Json[] {
    const out: Json[] = [];
    for (const index of indices) {
      const entry = this.streams.open.get(index);
      if (!entry) continue;
      this.streams.open.delete(index);
      const tail = entry.stream.flush();
      if (tail === "") continue;
      out.push({
        type: "content_block_delta",
        index,
        delta: entry.meta.json
          ? { type: "input_json_delta", partial_json: tail }
          : { type: "text_delta", text: tail },
      });
    }
    if (out.length > 0) this.lastUnchanged = false;
    if (event) out.push(event);
    return out;
  }

  end(): Json[] {
    this.lastUnchanged = false;
    return this.release([...this.streams.open.keys()], null);
  }
}
