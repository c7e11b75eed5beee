import { isObject, type Json } from "../bodies";
import type { StringRewriter } from "../session";
import { type PiiStreamAdapter, Streams } from "./adapter";

// OpenAI Chat Completions: `chat.completion.chunk` objects.

/**
 * Keys: content and refusal by choice; tool-call arguments by choice and call index, the legacy
 * `function_call` taking the last call index.
 */
const TOOL_KEYS = 1 << 16;
const FUNCTION_CALL = TOOL_KEYS - 1;
const contentKey = (choice: number) => choice * 2;
const refusalKey = (choice: number) => choice * 2 + 1;
const toolKey = (choice: number, call: number) => TOOL_KEYS * (choice + 1) + call;

/** What a key stands for, worked out only when its stream opens. */
function chatMeta(key: number): ChatMeta {
  if (key < TOOL_KEYS) return { choice: key >> 1, kind: key & 1 ? "refusal" : "content", call: 0 };
  const call = key % TOOL_KEYS;
  return {
    choice: Math.floor(key / TOOL_KEYS) - 1,
    kind: call === FUNCTION_CALL ? "function" : "arguments",
    call,
  };
}

interface ChatMeta {
  choice: number;
  kind: "content" | "refusal" | "arguments" | "function";
  call: number;
}

interface Tails {
  content: string;
  refusal: string;
  function: string;
  calls: Map<number, string>;
}

/**
 * One text stream per choice's `content` and `refusal` and per tool call's `arguments` (JSON).
 * Chunks keep their shape (a delta whose text is all held back goes out with `content: ""`), token
 * log-probabilities become null, and when a choice finishes with text still held, the finishing
 * chunk splits in two: its deltas plus the held text with `finish_reason: null`, then an empty
 * delta with the finish reason (and the usage, if the chunk carried it).
 */
export class ChatStreamAdapter implements PiiStreamAdapter {
  lastUnchanged = true;
  private readonly streams: Streams<ChatMeta>;
  /** The last chunk, whose id, model and created an extra chunk at the end repeats. */
  private envelope: Json | null = null;

  constructor(rw: StringRewriter) {
    this.streams = new Streams(rw);
  }

  event(chunk: Json): Json[] {
    this.lastUnchanged = true;
    const choices = chunk.choices;
    if (!Array.isArray(choices) || choices.length === 0) return [chunk];
    this.envelope = chunk;
    let finishing: Map<Json, Tails> | null = null;
    for (const choice of choices) {
      if (!isObject(choice)) continue;
      const index = typeof choice.index === "number" ? choice.index : 0;
      const delta = choice.delta;
      if (isObject(delta)) {
        this.push(delta, "content", contentKey(index), false);
        this.push(delta, "refusal", refusalKey(index), false);
        if (Array.isArray(delta.tool_calls)) {
          for (const call of delta.tool_calls) {
            if (!isObject(call) || !isObject(call.function)) continue;
            const n = typeof call.index === "number" ? call.index : 0;
            this.push(call.function, "arguments", toolKey(index, n), true);
          }
        }
        if (isObject(delta.function_call))
          this.push(delta.function_call, "arguments", toolKey(index, FUNCTION_CALL), true);
      }
      if (choice.logprobs != null) {
        choice.logprobs = null;
        this.lastUnchanged = false;
      }
      if (choice.finish_reason != null) {
        const tails = this.flushChoice(index);
        if (tails) {
          finishing ??= new Map();
          finishing.set(choice, tails);
        }
      }
    }
    if (!finishing) return [chunk];
    // Held text goes out in a chunk of its own before the one that finishes the choice.
    this.lastUnchanged = false;
    const found = finishing;
    const held: Json = {
      ...chunk,
      choices: choices.map((choice) => {
        const tails = found.get(choice);
        if (!tails) return choice;
        return {
          ...choice,
          delta: withTails(isObject(choice.delta) ? choice.delta : {}, tails),
          finish_reason: null,
        };
      }),
    };
    delete held.usage;
    const finish: Json = {
      ...chunk,
      choices: choices
        .filter((choice) => found.has(choice))
        .map((choice) => ({ ...(choice as Json), delta: {}, logprobs: null })),
    };
    return [held, finish];
  }

  private push(o: Json, field: string, key: number, json: boolean): void {
    const text = o[field];
    if (typeof text !== "string" || text === "") return;
    const out = this.streams.get(key, json, chatMeta).push(text);
    if (out !== text) {
      o[field] = out;
      this.lastUnchanged = false;
    }
  }

  private flushChoice(choice: number): Tails | null {
    let tails: Tails | null = null;
    for (const [key, { stream, meta }] of this.streams.open) {
      if (meta.choice !== choice || !stream.holding) continue;
      const tail = stream.flush();
      this.streams.open.delete(key);
      if (tail === "") continue;
      tails ??= { content: "", refusal: "", function: "", calls: new Map() };
      if (meta.kind === "arguments") tails.calls.set(meta.call, tail);
      else tails[meta.kind] = tail;
    }
    return tails;
  }

  end(): Json[] {
    this.lastUnchanged = false;
    const envelope = this.envelope;
    if (!envelope) return [];
    const choices: Json[] = [];
    const indices = new Set([...this.streams.open.values()].map((e) => e.meta.choice));
    for (const index of indices) {
      const tails = this.flushChoice(index);
      if (tails) choices.push({ index, delta: withTails({}, tails), logprobs: null, finish_reason: null });
    }
    if (choices.length === 0) return [];
    const { id, object, created, model, system_fingerprint } = envelope;
    return [{ id, object, created, model, system_fingerprint, choices }];
  }
}

function withTails(delta: Json, tails: Tails): Json {
  const out: Json = { ...delta };
  if (tails.content) out.content = (typeof delta.content === "string" ? delta.content : "") + tails.content;
  if (tails.refusal) out.refusal = (typeof delta.refusal === "string" ? delta.refusal : "") + tails.refusal;
  if (tails.function) {
    const call = isObject(delta.function_call) ? delta.function_call : {};
    const args = typeof call.arguments === "string" ? call.arguments : "";
    out.function_call = { ...call, arguments: args + tails.function };
  }
  if (tails.calls.size > 0) {
    const calls = Array.isArray(delta.tool_calls) ? delta.tool_calls.map((c) => ({ ...(c as Json) })) : [];
    for (const [index, tail] of tails.calls) {
      const call = calls.find((c) => c.index === index);
      if (call && isObject(call.function)) {
        const args = typeof call.function.arguments === "string" ? call.function.arguments : "";
        call.function = { ...call.function, arguments: args + tail };
      } else calls.push({ index, function: { arguments: tail } });
    }
    out.tool_calls = calls;
  }
  return out;
}
