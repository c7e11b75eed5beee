/**
 * pii-redact: personal data and secrets out of what a model reads, placeholders back to the
 * caller's values in what it writes, streamed answers included.
 *
 * One session per request; it holds the request's mapping (value ↔ placeholder) in memory and
 * nowhere else, so nothing with PII is ever stored or logged.
 *
 * ```ts
 * const pii = new PiiSession(config);                    // { categories?, restore_output? }
 * if (pii.redactRequest("chat", body)) raw = JSON.stringify(body);   // pre_call, in place
 * // non-streamed answer (post_call), in place:
 * if (pii.processResponse("chat", answer, { restore: true })) text = JSON.stringify(answer);
 * // streamed answer (during_call), per parsed SSE event:
 * const s = pii.streamAdapter("chat", { restore: true });
 * for (const ev of s.event(parsed)) send(s.lastUnchanged ? rawEvent : serialise(ev));
 * for (const ev of s.end()) send(serialise(ev));          // upstream done (before `[DONE]`)
 * record(pii.report());                                    // counts and categories, never values
 * ```
 *
 * Formats: `"chat"` (OpenAI Chat Completions), `"messages"` (Anthropic Messages), `"responses"`
 * (OpenAI Responses). Bodies and events are changed in place; the calls say whether they changed
 * anything so an unchanged body can be forwarded as it came.
 *
 * Placeholders are `[EMAIL_1]`, `[PHONE_2]`, … numbered per category in order of appearance; a value
 * (the exact text found) keeps its placeholder for the whole request. In the answer, values the model produced itself are
 * redacted too and stay so; with `restore`, placeholders handed out for the request become the
 * caller's values again (JSON-escaped inside tool-call arguments); any other placeholder-shaped
 * text is left alone. Token log-probabilities are removed from answers: they spell the raw text.
 *
 * Streams: each text (a choice's content, a content block, a tool call's arguments, a Responses
 * content part) goes through its own scanner that holds back only what may still become a value or
 * a placeholder (typically the last word) and releases it as soon as it cannot, so a value split
 * across chunks is caught, and the output is the same however the text was chunked. Held text is
 * sent as an extra delta before the part ends (before the chat chunk with `finish_reason`, before
 * Anthropic's `content_block_stop`, before Responses' `*.done` events, whose whole `text` and
 * `arguments` carry the processed text; later sequence numbers move up to make room). After an
 * upstream error `end()` may be skipped: held text is then simply not sent.
 * See scanner.ts for how, and detectors/ for what counts as a value.
 */

import {
  anthropicMessage,
  chatCompletion,
  chatRequest,
  type Json,
  messagesRequest,
  responsesInstructions,
  responsesOutput,
  responsesRequest,
  Walk,
} from "./bodies";
import { PII_CATEGORIES, type PiiCategory } from "./categories";
import { Mapping, type PiiReport, StringRewriter } from "./session";
import type { PiiStreamAdapter } from "./streams/adapter";
import { ChatStreamAdapter } from "./streams/chat";
import { MessagesStreamAdapter } from "./streams/messages";
import { ResponsesStreamAdapter } from "./streams/responses";

export {
  PII_CATEGORIES,
  type PiiCategory,
  type PiiConfig,
  type PiiCounts,
  piiConfigSchema,
} from "./categories";
export type { PiiReport } from "./session";
export type { PiiStreamAdapter } from "./streams/adapter";

export type PiiFormat = "chat" | "messages" | "responses" | "embeddings";

export interface PiiOptions {
  /** Put the caller's own values back in place of their placeholders (`restore_output`). */
  restore?: boolean;
}

/** A text that arrives in chunks, for callers with a stream format of their own. */
export interface PiiTextStream {
  push(chunk: string): string;
  flush(): string;
}

export class PiiSession {
  private readonly mapping: Mapping;
  private readonly restoreDefault: boolean;
  private redactor: StringRewriter | null = null;
  private readonly answers = new Map<string, StringRewriter>();

  constructor(config: { categories?: readonly PiiCategory[]; restore_output?: boolean } = {}) {
    this.mapping = new Mapping(config.categories ?? PII_CATEGORIES);
    this.restoreDefault = config.restore_output ?? true;
  }

  private request(): StringRewriter {
    this.redactor ??= new StringRewriter(this.mapping, this.mapping.redact);
    return this.redactor;
  }

  private answer(options: PiiOptions | undefined, count = true): StringRewriter {
    const restore = options?.restore ?? this.restoreDefault;
    const key = `${restore}/${count}`;
    let rw = this.answers.get(key);
    if (!rw) {
      rw = new StringRewriter(this.mapping, this.mapping.answer(restore, count));
      this.answers.set(key, rw);
    }
    return rw;
  }

  /** pre_call: replaces values in every text of a request body the model will read. In place. */
  redactRequest(format: PiiFormat, body: Json): boolean {
    const w = new Walk(this.request());
    if (format === "chat") chatRequest(w, body);
    else if (format === "messages") messagesRequest(w, body);
    // Embeddings: a string, strings, or token ids.
    else if (format === "embeddings") w.deep(body, "input");
    else responsesRequest(w, body);
    return w.changed;
  }

  /** post_call: a non-streamed answer (chat completion, Anthropic message, Response). In place. */
  processResponse(format: PiiFormat, body: Json, options?: PiiOptions): boolean {
    // Vectors carry no text to restore.
    if (format === "embeddings") return false;
    const w = new Walk(this.answer(options));
    if (format === "chat") chatCompletion(w, body);
    else if (format === "messages") anthropicMessage(w, body);
    else {
      responsesOutput(w, body);
      // The Response repeats the request's instructions: not the model's output, not counted.
      const echo = new Walk(this.answer(options, false));
      responsesInstructions(echo, body);
      return w.changed || echo.changed;
    }
    return w.changed;
  }

  /** during_call: one streamed answer, event by event. */
  streamAdapter(format: PiiFormat, options?: PiiOptions): PiiStreamAdapter {
    if (format === "embeddings") throw new Error("embeddings do not stream");
    const rw = this.answer(options);
    if (format === "chat") return new ChatStreamAdapter(rw);
    if (format === "messages") return new MessagesStreamAdapter(rw);
    return new ResponsesStreamAdapter(rw, this.answer(options, false));
  }

  /** pre_call on one text. */
  redactText(text: string): string {
    return this.request().text(text);
  }

  /** post_call on one text (`json` for JSON text such as tool-call arguments). */
  processText(text: string, options?: PiiOptions & { json?: boolean }): string {
    const rw = this.answer(options);
    return options?.json ? rw.json(text) : rw.text(text);
  }

  /** during_call on one text of a stream format of the caller's own. */
  textStream(options?: PiiOptions & { json?: boolean }): PiiTextStream {
    return this.answer(options).stream(options?.json ?? false);
  }

  /** Counts per category and restorations so far: what an execution record may keep. */
  report(): PiiReport {
    return this.mapping.report();
  }
}
