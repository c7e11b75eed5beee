import { anthropicToChatCompletion } from "./responses";
import type { AnthropicResponse, ChatCompletion, Json, TokenUsage } from "./types";
import { fromOpenAIUsage, type ResponsesUsage, toResponsesUsage } from "./usage";

// The OpenAI Responses API's `response` object, as relay writes it on translated routes: for a
// non-streamed answer here, and in the lifecycle events of a stream (responses-stream.ts).

/** What every response object of one request shares: set once, when the request is planned. */
export interface ResponseShape {
  /** Reported when the upstream names no model. */
  model: string;
  createdAt: number;
  /**
   * The request settings a response object echoes back (instructions, tools, metadata…), as JSON
   * members without the braces. Serialised once and spliced into each response object, so a stream
   * does not re-serialise the tool schemas for each of its lifecycle events.
   */
  echo: string;
}

/** The request fields echoed; the request was validated before (responses-request.ts). */
export interface EchoedSettings {
  instructions?: string | null;
  max_output_tokens?: number | null;
  metadata?: Record<string, string> | null;
  parallel_tool_calls?: boolean | null;
  reasoning?: Json | null;
  temperature?: number | null;
  text?: Json | null;
  tool_choice?: unknown;
  tools?: Json[] | null;
  top_p?: number | null;
  truncation?: string | null;
  user?: string | null;
}

/**
 * `kept` says whether relay keeps this response's message items (so a later `item_reference` to
 * them resolves); there is never a previous response on these routes.
 */
export function responseShape(req: EchoedSettings, model: string, kept = false): ResponseShape {
  const echo = {
    background: false,
    instructions: req.instructions ?? null,
    max_output_tokens: req.max_output_tokens ?? null,
    metadata: req.metadata ?? {},
    parallel_tool_calls: req.parallel_tool_calls ?? true,
    previous_response_id: null,
    reasoning: req.reasoning ?? { effort: null, summary: null },
    store: kept,
    temperature: req.temperature ?? null,
    text: req.text ?? { format: { type: "text" } },
    tool_choice: req.tool_choice ?? "auto",
    tools: req.tools ?? [],
    top_p: req.top_p ?? null,
    truncation: req.truncation ?? "disabled",
    user: req.user ?? null,
  };
  return { model, createdAt: Math.floor(Date.now() / 1000), echo: JSON.stringify(echo).slice(1, -1) };
}

/**
 * The prefix of the message items relay mints on translated routes. A later request may point at
 * such an item with `item_reference` (the Vercel AI SDK does, for its previous step's text); relay
 * recognises the prefix and drops the reference (responses-request.ts).
 */
export const RELAY_MESSAGE_PREFIX = "msg_rly";

/** The ids of one response and its output items; unique per response, readable as relay's. */
export class ResponseIds {
  private readonly base = crypto.randomUUID().replaceAll("-", "");
  readonly response = `resp_rly${this.base}`;
  message(outputIndex: number): string {
    return `${RELAY_MESSAGE_PREFIX}${this.base}_${outputIndex}`;
  }
  call(outputIndex: number): string {
    return `fc_rly${this.base}_${outputIndex}`;
  }
  /** For an upstream that sends a tool call without an id. */
  callId(outputIndex: number): string {
    return `call_rly${this.base}_${outputIndex}`;
  }
}

export type ResponseStatus = "in_progress" | "completed" | "incomplete" | "failed";
export type ItemStatus = "in_progress" | "completed" | "incomplete";

/** The status a Chat Completions finish reason ends a response in. */
export function outcome(finish: string | null | undefined): {
  status: "completed" | "incomplete";
  incomplete: { reason: string } | null;
} {
  if (finish === "length") return { status: "incomplete", incomplete: { reason: "max_output_tokens" } };
  if (finish === "content_filter") return { status: "incomplete", incomplete: { reason: "content_filter" } };
  return { status: "completed", incomplete: null };
}

export interface ResponseState {
  id: string;
  status: ResponseStatus;
  model: string;
  output: unknown[];
  usage: ResponsesUsage | null;
  incomplete?: { reason: string } | null;
  error?: { code: string; message: string } | null;
}

/** A response object as JSON text. */
export function responseJson(shape: ResponseShape, s: ResponseState): string {
  return (
    `{"id":"${s.id}","object":"response","created_at":${shape.createdAt},"status":"${s.status}",` +
    `"error":${s.error ? JSON.stringify(s.error) : "null"},` +
    `"incomplete_details":${s.incomplete ? JSON.stringify(s.incomplete) : "null"},` +
    `"model":${JSON.stringify(s.model)},"output":${JSON.stringify(s.output)},` +
    `"usage":${s.usage ? JSON.stringify(s.usage) : "null"},${shape.echo}}`
  );
}

export function textPart(text: string): Json {
  return { type: "output_text", annotations: [], logprobs: [], text };
}

export function refusalPart(refusal: string): Json {
  return { type: "refusal", refusal };
}

export function messageItem(id: string, status: ItemStatus, content: Json[]): Json {
  return { id, type: "message", status, content, role: "assistant" };
}

export function functionCallItem(
  id: string,
  status: ItemStatus,
  call: { callId: string; name: string; args: string },
): Json {
  return { id, type: "function_call", status, arguments: call.args, call_id: call.callId, name: call.name };
}

/** A Chat Completion → a response object: one message item (text or refusal), then one item per call. */
export function chatCompletionToResponse(
  res: ChatCompletion,
  shape: ResponseShape,
): { body: string; usage: TokenUsage | null; output: Json[] } {
  const ids = new ResponseIds();
  const choice = res.choices?.[0];
  const message = choice?.message;
  const { status, incomplete } = outcome(choice?.finish_reason);
  const itemStatus = status === "completed" ? "completed" : "incomplete";
  const output: Json[] = [];
  const content: Json[] = [];
  if (message?.content) content.push(textPart(message.content));
  if (message?.refusal) content.push(refusalPart(message.refusal));
  if (content.length) output.push(messageItem(ids.message(0), itemStatus, content));
  for (const call of message?.tool_calls ?? []) {
    const index = output.length;
    output.push(
      functionCallItem(ids.call(index), itemStatus, {
        callId: call.id || ids.callId(index),
        name: call.function.name,
        args: call.function.arguments,
      }),
    );
  }
  const usage = res.usage ? fromOpenAIUsage(res.usage) : null;
  const body = responseJson(shape, {
    id: ids.response,
    status,
    incomplete,
    model: res.model ?? shape.model,
    output,
    usage: usage && toResponsesUsage(usage, res.usage?.completion_tokens_details?.reasoning_tokens ?? 0),
  });
  return { body, usage, output };
}

/** An Anthropic message → a response object, through the Chat Completion relay already makes of it. */
export function anthropicToResponse(
  res: AnthropicResponse,
  shape: ResponseShape,
): { body: string; usage: TokenUsage; output: Json[] } {
  const { body: completion, usage } = anthropicToChatCompletion(res);
  const { body, output } = chatCompletionToResponse(completion, shape);
  return { body, usage, output };
}
