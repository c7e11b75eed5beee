import type { SseEvent } from "../../common/sse";
import {
  functionCallItem,
  type ItemStatus,
  messageItem,
  outcome,
  ResponseIds,
  type ResponseShape,
  type ResponseState,
  type ResponseStatus,
  refusalPart,
  responseJson,
  textPart,
} from "./responses-object";
import { AnthropicToChatChunks, type ChatChunkSink, parseData, type StreamTranslator } from "./streams";
import type { ChatChunk, ChatToolCallDelta, Json, TokenUsage } from "./types";
import { fromOpenAIUsage, toResponsesUsage } from "./usage";

// Streamed Chat Completions → the Responses API's event grammar, event by event:
//
//   response.created, response.in_progress
//   per message:  output_item.added, content_part.added, output_text.delta…, output_text.done,
//                 content_part.done, output_item.done   (refusal.delta / refusal.done for refusals)
//   per call:     output_item.added, function_call_arguments.delta…, function_call_arguments.done,
//                 output_item.done
//   response.completed | response.incomplete | response.failed
//
// Every event carries `type` and an increasing `sequence_number`, and is written as
// `event: <type>\ndata: <json>\n\n`. Deltas are written as they come; text and arguments are also
// kept, because the `done` events and the final response repeat them whole.

type PartKind = "output_text" | "refusal";

interface OpenMessage {
  index: number;
  id: string;
  parts: { kind: PartKind; text: string }[];
  /** The part deltas go to, until the kind changes or the message ends. */
  open: boolean;
}

interface OpenCall {
  index: number;
  id: string;
  callId: string;
  name: string;
  args: string;
  done: boolean;
}

function partJson(p: { kind: PartKind; text: string }): Json {
  return p.kind === "output_text" ? textPart(p.text) : refusalPart(p.text);
}

/**
 * Fed chat chunk objects (parsed from an OpenAI-compatible stream, or made from Anthropic events by
 * AnthropicToChatChunks), writes Responses events into a buffer the caller takes after each step.
 * Hot-path events are written as JSON text directly: the ids in them are relay's own, and every
 * string that came from upstream goes through JSON.stringify.
 */
export class ChatToResponsesEvents implements ChatChunkSink {
  private out = "";
  private seq = 0;
  private readonly ids = new ResponseIds();
  private model: string;
  private started = false;
  private finished = false;
  /** Items by output_index; null while an item is still open. */
  private readonly output: (Json | null)[] = [];
  private message: OpenMessage | null = null;
  /** Chat tool-call index (or id, for servers that send none) → its function_call item. */
  private readonly calls = new Map<number | string, OpenCall>();
  private lastCallKey: number | string = 0;
  private finish: string | null = null;
  private seen: TokenUsage | null = null;
  private reasoningTokens = 0;

  constructor(private readonly shape: ResponseShape) {
    this.model = shape.model;
  }

  /** The message items of the response once complete (what relay may keep for item references). */
  messages(): Json[] {
    return this.finished
      ? this.output.filter((i): i is Json => i !== null && i.type === "message" && i.status === "completed")
      : [];
  }

  /** The events written since the last call. */
  take(): string {
    const out = this.out;
    this.out = "";
    return out;
  }

  usage(): TokenUsage | null {
    return this.seen;
  }

  private emit(type: string, members: string): void {
    this.out += `event: ${type}\ndata: {"type":"${type}","sequence_number":${this.seq++},${members}}\n\n`;
  }

  private response(status: ResponseStatus, extra: Pick<ResponseState, "incomplete" | "error">): string {
    const usage = this.seen && toResponsesUsage(this.seen, this.reasoningTokens);
    return responseJson(this.shape, {
      id: this.ids.response,
      status,
      model: this.model,
      output: this.output,
      usage: status === "in_progress" ? null : usage,
      ...extra,
    });
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    const skeleton = this.response("in_progress", {});
    this.emit("response.created", `"response":${skeleton}`);
    this.emit("response.in_progress", `"response":${skeleton}`);
  }

  chunk(chunk: ChatChunk): void {
    if (this.finished) return;
    if (chunk.error) {
      const err = chunk.error;
      this.error(String(err.message ?? "upstream error"), String(err.code ?? err.type ?? "api_error"));
      return;
    }
    if (!this.started) {
      if (typeof chunk.model === "string" && chunk.model) this.model = chunk.model;
      this.start();
    }
    if (chunk.usage) {
      this.seen = fromOpenAIUsage(chunk.usage);
      this.reasoningTokens = chunk.usage.completion_tokens_details?.reasoning_tokens ?? 0;
    }
    const choice = chunk.choices?.[0];
    if (!choice) return;
    const delta = choice.delta;
    if (delta) {
      if (typeof delta.content === "string" && delta.content !== "") this.text("output_text", delta.content);
      if (typeof delta.refusal === "string" && delta.refusal !== "") this.text("refusal", delta.refusal);
      if (delta.tool_calls) for (const call of delta.tool_calls) this.toolCall(call);
    }
    if (choice.finish_reason) {
      this.finish = choice.finish_reason;
      this.closeItems();
    }
  }

  private text(kind: PartKind, text: string): void {
    const m = this.message ?? this.openMessage();
    let part = m.parts[m.parts.length - 1];
    if (!part || !m.open || part.kind !== kind) {
      if (part && m.open) this.closePart(m);
      part = { kind, text: "" };
      m.parts.push(part);
      m.open = true;
      this.emit(
        "response.content_part.added",
        `"item_id":"${m.id}","output_index":${m.index},"content_index":${m.parts.length - 1},"part":${JSON.stringify(partJson(part))}`,
      );
    }
    part.text += text;
    const at = `"item_id":"${m.id}","output_index":${m.index},"content_index":${m.parts.length - 1}`;
    if (kind === "output_text")
      this.emit("response.output_text.delta", `${at},"delta":${JSON.stringify(text)},"logprobs":[]`);
    else this.emit("response.refusal.delta", `${at},"delta":${JSON.stringify(text)}`);
  }

  private openMessage(): OpenMessage {
    const index = this.output.length;
    this.output.push(null);
    const m: OpenMessage = { index, id: this.ids.message(index), parts: [], open: false };
    this.message = m;
    this.emit(
      "response.output_item.added",
      `"output_index":${index},"item":${JSON.stringify(messageItem(m.id, "in_progress", []))}`,
    );
    return m;
  }

  private closePart(m: OpenMessage): void {
    m.open = false;
    const index = m.parts.length - 1;
    const part = m.parts[index] as { kind: PartKind; text: string };
    const at = `"item_id":"${m.id}","output_index":${m.index},"content_index":${index}`;
    if (part.kind === "output_text")
      this.emit("response.output_text.done", `${at},"text":${JSON.stringify(part.text)},"logprobs":[]`);
    else this.emit("response.refusal.done", `${at},"refusal":${JSON.stringify(part.text)}`);
    this.emit("response.content_part.done", `${at},"part":${JSON.stringify(partJson(part))}`);
  }

  private closeMessage(status: ItemStatus): void {
    const m = this.message;
    if (!m) return;
    this.message = null;
    if (m.open) this.closePart(m);
    const item = messageItem(m.id, status, m.parts.map(partJson));
    this.output[m.index] = item;
    this.emit("response.output_item.done", `"output_index":${m.index},"item":${JSON.stringify(item)}`);
  }

  private toolCall(delta: ChatToolCallDelta): void {
    // Servers that omit the index send each call whole, or name it by id; others interleave by index.
    const key = typeof delta.index === "number" ? delta.index : (delta.id ?? this.lastCallKey);
    this.lastCallKey = key;
    let call = this.calls.get(key);
    if (!call) {
      // Text before a call is complete once the call starts; text after it is a message of its own.
      this.closeMessage("completed");
      const index = this.output.length;
      this.output.push(null);
      call = {
        index,
        id: this.ids.call(index),
        callId: delta.id || this.ids.callId(index),
        name: delta.function?.name ?? "",
        args: "",
        done: false,
      };
      this.calls.set(key, call);
      this.emit(
        "response.output_item.added",
        `"output_index":${index},"item":${JSON.stringify(functionCallItem(call.id, "in_progress", call))}`,
      );
    } else if (call.done) return;
    else if (!call.name && delta.function?.name) call.name = delta.function.name;
    const args = delta.function?.arguments;
    if (!args) return;
    call.args += args;
    this.emit(
      "response.function_call_arguments.delta",
      `"item_id":"${call.id}","output_index":${call.index},"delta":${JSON.stringify(args)}`,
    );
  }

  /** The upstream finished its choice: every open item is done. */
  private closeItems(): void {
    const status: ItemStatus = outcome(this.finish).status === "completed" ? "completed" : "incomplete";
    this.closeMessage(status);
    for (const call of this.calls.values()) {
      if (call.done) continue;
      call.done = true;
      this.emit(
        "response.function_call_arguments.done",
        `"item_id":"${call.id}","output_index":${call.index},"arguments":${JSON.stringify(call.args)},"name":${JSON.stringify(call.name)}`,
      );
      const item = functionCallItem(call.id, status, call);
      this.output[call.index] = item;
      this.emit("response.output_item.done", `"output_index":${call.index},"item":${JSON.stringify(item)}`);
    }
  }

  /** The stream ended (`[DONE]`, or the body ended): the final response, with usage. */
  done(): void {
    if (this.finished) return;
    this.start();
    this.closeItems();
    this.finished = true;
    const { status, incomplete } = outcome(this.finish);
    this.emit(`response.${status}`, `"response":${this.response(status, { incomplete })}`);
  }

  /**
   * A failure once the stream has begun: `response.failed` with the error and what was produced
   * so far (open items marked incomplete). Nothing follows it; after the final response, nothing
   * is sent at all.
   */
  error(message: string, code: string): void {
    if (this.finished) return;
    this.start();
    this.finished = true;
    const m = this.message;
    if (m) this.output[m.index] = messageItem(m.id, "incomplete", m.parts.map(partJson));
    for (const call of this.calls.values())
      if (!call.done) this.output[call.index] = functionCallItem(call.id, "incomplete", call);
    this.emit("response.failed", `"response":${this.response("failed", { error: { code, message } })}`);
  }
}

/** OpenAI-compatible upstream, Responses client. */
export class ChatToResponsesStream implements StreamTranslator {
  private readonly events: ChatToResponsesEvents;

  constructor(shape: ResponseShape) {
    this.events = new ChatToResponsesEvents(shape);
  }

  event(ev: SseEvent): string {
    if (ev.data === "[DONE]") this.events.done();
    else {
      const chunk = parseData(ev.data);
      if (chunk) this.events.chunk(chunk as ChatChunk);
    }
    return this.events.take();
  }
  end(): string {
    this.events.done();
    return this.events.take();
  }
  error(message: string, type: string): string {
    this.events.error(message, type);
    return this.events.take();
  }
  usage(): TokenUsage | null {
    return this.events.usage();
  }
  messages(): Json[] {
    return this.events.messages();
  }
}

/**
 * Anthropic upstream, Responses client: Anthropic events → chat chunk objects → Responses events,
 * composed on objects (no SSE text or JSON in between).
 */
export class AnthropicToResponsesStream implements StreamTranslator {
  private readonly events: ChatToResponsesEvents;
  private readonly chunks: AnthropicToChatChunks;

  constructor(shape: ResponseShape) {
    this.events = new ChatToResponsesEvents(shape);
    this.chunks = new AnthropicToChatChunks(shape.model, true, this.events);
  }

  event(ev: SseEvent): string {
    this.chunks.event(ev);
    return this.events.take();
  }
  end(): string {
    this.chunks.end();
    return this.events.take();
  }
  error(message: string, type: string): string {
    this.chunks.fail(message, type);
    return this.events.take();
  }
  usage(): TokenUsage | null {
    // Anthropic's own counts: they arrive with the first event, so a failed stream still has them.
    return this.chunks.usage();
  }
  messages(): Json[] {
    return this.events.messages();
  }
}
