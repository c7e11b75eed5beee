import { formatSse, type SseEvent } from "../../common/sse";
import { parseData, type StreamTranslator } from "./streams";
import type { Json, TokenUsage } from "./types";
import { fromResponsesUsage, type ResponsesUsage } from "./usage";

// OpenAI's own Responses API is passed through untouched; relay only reads the usage.

/** Usage of a non-streamed response object, or null when it has none. */
export function responsesUsage(body: Json): TokenUsage | null {
  const usage = body.usage as Partial<ResponsesUsage> | null | undefined;
  return usage ? fromResponsesUsage(usage) : null;
}

/** The events that end a response; only they carry usage. */
const FINAL = new Set(["response.completed", "response.incomplete", "response.failed"]);

/** Forwards OpenAI's Responses events as they came; parses only the one that carries usage. */
export class ResponsesPassthrough implements StreamTranslator {
  private seen: TokenUsage | null = null;
  private count = 0;

  event(ev: SseEvent): string {
    this.count++;
    // OpenAI names each event; without a name, only an event mentioning usage is worth parsing
    // (an escaped "usage" inside text does not match the quoted key).
    if (ev.event ? FINAL.has(ev.event) : ev.data.includes('"usage"')) {
      const data = parseData(ev.data);
      const response = data?.response as Json | undefined;
      if (FINAL.has(String(data?.type)) && response?.usage) this.seen = responsesUsage(response);
    }
    return ev.raw;
  }
  end(): string {
    return "";
  }
  /**
   * Relay's own failure mid-stream, as the API's `error` event. Its sequence number follows
   * OpenAI's, which count the events from 0.
   */
  error(message: string, type: string): string {
    return formatSse(
      JSON.stringify({ type: "error", sequence_number: this.count, code: type, message, param: null }),
      "error",
    );
  }
  usage(): TokenUsage | null {
    return this.seen;
  }
}
