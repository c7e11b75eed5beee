import { formatSse, type SseEvent } from "../../common/sse";
import { ANTHROPIC_TO_OPENAI_FINISH, anthropicId, OPENAI_TO_ANTHROPIC_STOP, openAIId } from "./responses";
import type { AnthropicUsage, ChatChunk, ChatChunkChoice, Json, OpenAIUsage, TokenUsage } from "./types";
import { fromAnthropicUsage, fromOpenAIUsage, toAnthropicUsage, toOpenAIUsage } from "./usage";

/**
 * Turns upstream SSE events into the client's SSE events, one event at a time, and keeps the
 * token usage it sees. Pass-throughs forward each event's own text untouched.
 */
export interface StreamTranslator {
  event(ev: SseEvent): string;
  /** The upstream stream ended; whatever must still be sent. */
  end(): string;
  /** A failure after the first byte, as an event in the client's format. */
  error(message: string, type: string): string;
  usage(): TokenUsage | null;
}

const openAIError = (message: string, type: string) =>
  formatSse(JSON.stringify({ error: { message, type, code: type, param: null } }));
const anthropicError = (message: string, type: string) =>
  formatSse(JSON.stringify({ type: "error", error: { type, message } }), "error");

/** An event's data as JSON, or null when it is not (relay skips such events rather than fail). */
export function parseData(data: string): Json | null {
  try {
    return JSON.parse(data) as Json;
  } catch {
    return null;
  }
}

/** OpenAI-compatible upstream, OpenAI client: forwards events, removes the usage chunk relay asked for. */
export class OpenAIPassthrough implements StreamTranslator {
  private seen: TokenUsage | null = null;
  constructor(private readonly dropUsageChunk: boolean) {}

  event(ev: SseEvent): string {
    // Only chunks that mention usage are parsed: the rest pass as they came.
    if (ev.data !== "[DONE]" && ev.data.includes('"usage"')) {
      const chunk = parseData(ev.data);
      const usage = chunk?.usage as OpenAIUsage | null | undefined;
      if (usage) this.seen = fromOpenAIUsage(usage);
      if (this.dropUsageChunk && usage && Array.isArray(chunk?.choices) && chunk.choices.length === 0)
        return "";
    }
    return ev.raw;
  }
  end(): string {
    return "";
  }
  error(message: string, type: string): string {
    return openAIError(message, type);
  }
  usage(): TokenUsage | null {
    return this.seen;
  }
}

/** Anthropic upstream, Anthropic client: forwards events, reads usage from start and delta. */
export class AnthropicPassthrough implements StreamTranslator {
  private raw: Partial<AnthropicUsage> | null = null;

  event(ev: SseEvent): string {
    if (ev.event === "message_start" || ev.event === "message_delta") {
      const data = parseData(ev.data);
      const usage = (
        ev.event === "message_start" ? (data?.message as Json | undefined)?.usage : data?.usage
      ) as Partial<AnthropicUsage> | undefined;
      if (usage)
        this.raw = { ...this.raw, ...Object.fromEntries(Object.entries(usage).filter(([, v]) => v != null)) };
    }
    return ev.raw;
  }
  end(): string {
    return "";
  }
  error(message: string, type: string): string {
    return anthropicError(message, type);
  }
  usage(): TokenUsage | null {
    return this.raw ? fromAnthropicUsage(this.raw) : null;
  }
}

/** Where a chunk producer hands what it makes: chunk objects, the normal end, or an upstream error. */
export interface ChatChunkSink {
  chunk(chunk: ChatChunk): void;
  /** The stream ended normally (`data: [DONE]` on the wire). */
  done(): void;
  error(message: string, type: string): void;
}

/**
 * Anthropic events → `chat.completion.chunk` objects, handed to a sink. Kept apart from the SSE
 * text so that other formats (the Responses API) compose with it on objects, without serialising
 * chunks only to parse them again.
 */
export class AnthropicToChatChunks {
  private id = openAIId(crypto.randomUUID());
  private model: string;
  private readonly created = Math.floor(Date.now() / 1000);
  private raw: Partial<AnthropicUsage> = {};
  private finish: string | null = null;
  private finished = false;
  /** Anthropic content-block index → OpenAI tool_calls index. */
  private readonly toolIndex = new Map<number, number>();

  constructor(
    model: string,
    private readonly includeUsage: boolean,
    private readonly sink: ChatChunkSink,
  ) {
    this.model = model;
  }

  private chunk(delta: ChatChunkChoice["delta"], finish: string | null = null): void {
    this.sink.chunk({
      id: this.id,
      object: "chat.completion.chunk",
      created: this.created,
      model: this.model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    });
  }

  event(ev: SseEvent): void {
    const data = parseData(ev.data);
    if (!data) return;
    switch (data.type) {
      case "message_start": {
        const message = data.message as Json;
        this.id = openAIId(String(message.id ?? crypto.randomUUID()));
        if (typeof message.model === "string") this.model = message.model;
        this.raw = { ...(message.usage as Partial<AnthropicUsage>) };
        this.chunk({ role: "assistant", content: "" });
        return;
      }
      case "content_block_start": {
        const block = data.content_block as Json;
        if (block.type !== "tool_use") return;
        const index = this.toolIndex.size;
        this.toolIndex.set(Number(data.index), index);
        this.chunk({
          tool_calls: [
            {
              index,
              id: block.id as string,
              type: "function",
              function: { name: block.name as string, arguments: "" },
            },
          ],
        });
        return;
      }
      case "content_block_delta": {
        const delta = data.delta as Json;
        if (delta.type === "text_delta") this.chunk({ content: delta.text as string });
        else if (delta.type === "input_json_delta") {
          const index = this.toolIndex.get(Number(data.index));
          if (index === undefined || !delta.partial_json) return;
          this.chunk({ tool_calls: [{ index, function: { arguments: delta.partial_json as string } }] });
        }
        return; // thinking and signatures have no Chat Completions equivalent
      }
      case "message_delta": {
        const stop = (data.delta as Json | undefined)?.stop_reason;
        if (typeof stop === "string") this.finish = ANTHROPIC_TO_OPENAI_FINISH[stop] ?? "stop";
        const usage = data.usage as Partial<AnthropicUsage> | undefined;
        if (usage) {
          for (const [k, v] of Object.entries(usage)) if (v != null) (this.raw as Json)[k] = v;
        }
        return;
      }
      case "message_stop":
        this.end();
        return;
      case "error": {
        const err = data.error as Json | undefined;
        this.fail(String(err?.message ?? "upstream error"), String(err?.type ?? "api_error"));
        return;
      }
      default:
        return; // ping, content_block_stop
    }
  }

  /** The upstream finished: the finish chunk, the usage chunk if asked for, then the end. */
  end(): void {
    if (this.finished) return;
    this.finished = true;
    this.chunk({}, this.finish ?? "stop");
    if (this.includeUsage) {
      this.sink.chunk({
        id: this.id,
        object: "chat.completion.chunk",
        created: this.created,
        model: this.model,
        choices: [],
        usage: toOpenAIUsage(fromAnthropicUsage(this.raw)),
      });
    }
    this.sink.done();
  }

  /** A failure: reported once, and nothing follows it. */
  fail(message: string, type: string): void {
    if (this.finished) return;
    this.finished = true;
    this.sink.error(message, type);
  }

  usage(): TokenUsage {
    return fromAnthropicUsage(this.raw);
  }
}

/** Anthropic upstream, OpenAI client: `message_start … message_stop` → `chat.completion.chunk` events. */
export class AnthropicToOpenAIStream implements StreamTranslator {
  private out = "";
  private readonly chunks: AnthropicToChatChunks;

  constructor(model: string, includeUsage: boolean) {
    this.chunks = new AnthropicToChatChunks(model, includeUsage, {
      chunk: (chunk) => {
        this.out += formatSse(JSON.stringify(chunk));
      },
      done: () => {
        this.out += "data: [DONE]\n\n";
      },
      error: (message, type) => {
        this.out += openAIError(message, type);
      },
    });
  }

  private take(): string {
    const out = this.out;
    this.out = "";
    return out;
  }

  event(ev: SseEvent): string {
    this.chunks.event(ev);
    return this.take();
  }
  end(): string {
    this.chunks.end();
    return this.take();
  }
  error(message: string, type: string): string {
    // Unlike an upstream error event, relay's own failure is reported even after the end.
    this.chunks.fail(message, type);
    this.take();
    return openAIError(message, type);
  }
  usage(): TokenUsage | null {
    return this.chunks.usage();
  }
}

/**
 * OpenAI-compatible upstream, Anthropic client: chunks → `message_start … message_stop`.
 * Text streams as it comes. Tool calls are gathered and each becomes a whole `tool_use` block when
 * the upstream finishes: OpenAI-compatible servers may interleave the argument deltas of parallel
 * calls, while Anthropic's blocks must start, fill and stop one after another.
 */
export class OpenAIToAnthropicStream implements StreamTranslator {
  private started = false;
  private finished = false;
  private blockIndex = -1;
  private textOpen = false;
  private readonly calls = new Map<number, { id: string; name: string; args: string }>();
  private stop: string | null = null;
  private seen: TokenUsage | null = null;

  constructor(private readonly model: string) {}

  private emit(type: string, body: Json): string {
    return formatSse(JSON.stringify({ type, ...body }), type);
  }

  private start(id: string | undefined, model: string | undefined): string {
    if (this.started) return "";
    this.started = true;
    return this.emit("message_start", {
      message: {
        id: anthropicId(id),
        type: "message",
        role: "assistant",
        model: model ?? this.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 0, output_tokens: 0 },
      },
    });
  }

  private closeText(): string {
    if (!this.textOpen) return "";
    this.textOpen = false;
    return this.emit("content_block_stop", { index: this.blockIndex });
  }

  /** Every gathered tool call as a complete block, in call order. */
  private flushTools(): string {
    let out = this.closeText();
    for (const [, call] of [...this.calls.entries()].sort((a, b) => a[0] - b[0])) {
      this.blockIndex++;
      out += this.emit("content_block_start", {
        index: this.blockIndex,
        content_block: {
          type: "tool_use",
          id: call.id || `toolu_${crypto.randomUUID().replaceAll("-", "")}`,
          name: call.name,
          input: {},
        },
      });
      if (call.args) {
        out += this.emit("content_block_delta", {
          index: this.blockIndex,
          delta: { type: "input_json_delta", partial_json: call.args },
        });
      }
      out += this.emit("content_block_stop", { index: this.blockIndex });
    }
    this.calls.clear();
    return out;
  }

  event(ev: SseEvent): string {
    if (ev.data === "[DONE]") return this.close();
    const chunk = parseData(ev.data);
    if (!chunk) return "";
    if (chunk.error) {
      const err = chunk.error as Json;
      this.finished = true;
      return anthropicError(String(err.message ?? "upstream error"), "api_error");
    }
    let out = this.start(chunk.id as string | undefined, chunk.model as string | undefined);
    if (chunk.usage) this.seen = fromOpenAIUsage(chunk.usage as OpenAIUsage);
    const choice = (chunk.choices as Json[] | undefined)?.[0];
    if (!choice) return out;
    const delta = (choice.delta as Json | undefined) ?? {};
    if (typeof delta.content === "string" && delta.content !== "") {
      if (!this.textOpen) {
        this.blockIndex++;
        this.textOpen = true;
        out += this.emit("content_block_start", {
          index: this.blockIndex,
          content_block: { type: "text", text: "" },
        });
      }
      out += this.emit("content_block_delta", {
        index: this.blockIndex,
        delta: { type: "text_delta", text: delta.content },
      });
    }
    for (const call of (delta.tool_calls as Json[] | undefined) ?? []) {
      const index = Number(call.index ?? 0);
      const fn = (call.function as Json | undefined) ?? {};
      const entry = this.calls.get(index) ?? { id: "", name: "", args: "" };
      if (typeof call.id === "string" && call.id) entry.id = call.id;
      if (typeof fn.name === "string" && fn.name) entry.name = fn.name;
      if (typeof fn.arguments === "string") entry.args += fn.arguments;
      this.calls.set(index, entry);
    }
    if (typeof choice.finish_reason === "string") {
      this.stop = OPENAI_TO_ANTHROPIC_STOP[choice.finish_reason] ?? "end_turn";
      out += this.flushTools();
    }
    return out;
  }

  private close(): string {
    if (this.finished) return "";
    this.finished = true;
    const usage = toAnthropicUsage(this.seen ?? { input: 0, output: 0, cached: 0 });
    return (
      this.start(undefined, undefined) +
      this.flushTools() +
      this.closeText() +
      this.emit("message_delta", {
        delta: { stop_reason: this.stop ?? "end_turn", stop_sequence: null },
        usage,
      }) +
      this.emit("message_stop", {})
    );
  }

  end(): string {
    return this.close();
  }
  error(message: string, type: string): string {
    this.finished = true;
    return anthropicError(message, type);
  }
  usage(): TokenUsage | null {
    return this.seen;
  }
}
