import { errors } from "../../common/errors";
import type { Config } from "../config/env";
import type { Target } from "../routing/resolve";
import { chatToMessages } from "../translate/chat-to-messages";
import { messagesToChat } from "../translate/messages-to-chat";
import { anthropicToChatCompletion, chatCompletionToAnthropic } from "../translate/responses";
import { anthropicToResponse, chatCompletionToResponse } from "../translate/responses-object";
import { ResponsesPassthrough, responsesUsage } from "../translate/responses-passthrough";
import { responsesToChat } from "../translate/responses-request";
import { AnthropicToResponsesStream, ChatToResponsesStream } from "../translate/responses-stream";
import { AnthropicPassthrough, AnthropicToOpenAIStream, OpenAIToAnthropicStream } from "../translate/streams";
import type {
  AnthropicRequest,
  AnthropicResponse,
  Json,
  OpenAIChatRequest,
  TokenUsage,
} from "../translate/types";
import { fromAnthropicUsage, fromOpenAIUsage } from "../translate/usage";
import { applySamplingDefaults, type Endpoint, RELAY_FIELDS } from "./fields";
import { BytePassthrough, OpenAIBytePassthrough, type StreamPump, TextPump } from "./stream-pumps";

/** The client's side of a request: which API it called, and its parsed body. */
export interface ClientRequest {
  endpoint: Endpoint;
  body: Json;
  /** The client's raw body, forwarded as-is when nothing in it has to change. */
  raw: string;
  stream: boolean;
  /** Headers that pass through to Anthropic (`anthropic-version`, `anthropic-beta`). */
  anthropicHeaders: Record<string, string>;
  /** Session headers, passed to local models so the sidecar can keep sessions apart. */
  sessionHeaders: Record<string, string>;
  /** Responses: relay keeps the answer's message items (store not false, Redis configured). */
  keepItems?: boolean;
}

/** How to call one target, and how to turn its answer into the client's format. */
export interface Plan {
  url: string;
  headers: Record<string, string>;
  body: string;
  /** Non-streamed answer → client body (unchanged text when it needs no translation) and usage. */
  respond(text: string): { body: string; usage: TokenUsage | null };
  pump(): StreamPump;
  /**
   * The client receives the upstream's stream byte for byte: the pump only observes (usage, size,
   * errors), beside a body that flows natively (proxy.ts).
   */
  passthrough?: boolean;
  /** What the translation could not honour but did not refuse, for x-relay-warning. */
  warnings?: string[];
  /** Translated Responses: the assistant message items of the finished answer (to keep). */
  messages?(): Json[];
}

const ANTHROPIC_VERSION = "2023-06-01";

function parseJson<T>(text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw errors.badGateway("upstream_invalid_response", "The upstream answered with invalid JSON");
  }
}

/** Passes usage through unchanged, so a pass-through answer is forwarded byte for byte. */
function usageOnly(
  text: string,
  read: (body: Json) => TokenUsage | null,
): { body: string; usage: TokenUsage | null } {
  return { body: text, usage: read(parseJson<Json>(text)) };
}

export function anthropicUrl(base: string, path = "messages"): string {
  // Accept both the SDK convention (https://api.anthropic.com) and a base that ends in /v1.
  return `${base.replace(/\/+$/, "").replace(/\/v1$/, "")}/v1/${path}`;
}

function openAIHeaders(
  target: Target,
  stream: boolean,
  session: Record<string, string> = {},
): Record<string, string> {
  return {
    "content-type": "application/json",
    accept: stream ? "text/event-stream" : "application/json",
    ...(target.apiKey ? { authorization: `Bearer ${target.apiKey}` } : {}),
    ...(target.provider === "local" ? session : {}),
  };
}

export function anthropicHeaders(
  target: Target,
  stream: boolean,
  client: Record<string, string>,
): Record<string, string> {
  return {
    "content-type": "application/json",
    accept: stream ? "text/event-stream" : "application/json",
    "anthropic-version": client["anthropic-version"] ?? ANTHROPIC_VERSION,
    ...(client["anthropic-beta"] ? { "anthropic-beta": client["anthropic-beta"] } : {}),
    ...(target.apiKey ? { "x-api-key": target.apiKey } : {}),
  };
}

/**
 * The client body for the upstream in the same format: model swapped, relay's own fields removed.
 * Returns the client's raw text when nothing changed, to spare a re-serialisation.
 */
function sameFormatBody(
  req: ClientRequest,
  target: Target,
  config: Config,
  extra?: (b: Json) => boolean,
  responses = false,
): string {
  const body: Json = { ...req.body };
  let changed = body.model !== target.model;
  body.model = target.model;
  for (const f of RELAY_FIELDS) {
    if (f in body) {
      delete body[f];
      changed = true;
    }
  }
  if (extra?.(body)) changed = true;
  const fieldCount = Object.keys(body).length;
  applySamplingDefaults(body, config, target, responses);
  if (Object.keys(body).length !== fieldCount) changed = true;
  return changed ? JSON.stringify(body) : req.raw;
}

export function planRequest(req: ClientRequest, target: Target, config: Config): Plan {
  const { endpoint, stream } = req;

  if (endpoint === "embeddings") {
    if (target.wire !== "openai") {
      throw errors.badRequest("unsupported_endpoint", `'${target.provider}' has no embeddings API`, "model");
    }
    return {
      url: `${target.baseUrl}/embeddings`,
      headers: openAIHeaders(target, false, req.sessionHeaders),
      body: sameFormatBody(req, target, config),
      respond: (text) => usageOnly(text, (b) => fromOpenAIUsage(b.usage as never)),
      pump: () => {
        throw new Error("embeddings do not stream");
      },
    };
  }

  if (endpoint === "chat" && target.wire === "openai") {
    const options = req.body.stream_options as { include_usage?: boolean } | undefined;
    const clientWantsUsage = options?.include_usage === true;
    const keepUsageChunk = clientWantsUsage || config.RELAY_STREAM_USAGE_CHUNK === "forward";
    // Streams always report usage: relay asks for it and removes the chunk if the client did not.
    const body = sameFormatBody(req, target, config, (b) => {
      if (!stream || clientWantsUsage) return false;
      b.stream_options = { ...(options ?? {}), include_usage: true };
      return true;
    });
    return {
      url: `${target.baseUrl}/chat/completions`,
      headers: openAIHeaders(target, stream, req.sessionHeaders),
      body,
      respond: (text) => usageOnly(text, (b) => (b.usage ? fromOpenAIUsage(b.usage as never) : null)),
      pump: () => new OpenAIBytePassthrough(!keepUsageChunk),
      // Unless the client keeps the usage chunk relay asked for, relay removes it: the one OpenAI
      // stream whose bytes change (docs/performance.md has what that costs).
      passthrough: keepUsageChunk,
    };
  }

  if (endpoint === "responses") return planResponses(req, target, config);

  if (endpoint === "chat" && target.wire === "anthropic") {
    const chat = req.body as OpenAIChatRequest;
    const warnings: string[] = [];
    const upstream = chatToMessages(chat, target.model, config.RELAY_ANTHROPIC_DEFAULT_MAX_TOKENS, warnings);
    applySamplingDefaults(upstream, config, target);
    const includeUsage =
      (chat.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
    return {
      url: anthropicUrl(target.baseUrl),
      headers: anthropicHeaders(target, stream, {}),
      body: JSON.stringify(upstream),
      respond: (text) => {
        const { body, usage } = anthropicToChatCompletion(parseJson<AnthropicResponse>(text));
        return { body: JSON.stringify(body), usage };
      },
      pump: () => new TextPump(new AnthropicToOpenAIStream(target.model, includeUsage)),
      warnings,
    };
  }

  if (endpoint === "messages" && target.wire === "anthropic") {
    return {
      url: anthropicUrl(target.baseUrl),
      headers: anthropicHeaders(target, stream, req.anthropicHeaders),
      body: sameFormatBody(req, target, config),
      respond: (text) => usageOnly(text, (b) => (b.usage ? fromAnthropicUsage(b.usage as never) : null)),
      pump: () => new BytePassthrough(new AnthropicPassthrough()),
      passthrough: true,
    };
  }

  // Anthropic client, OpenAI-compatible upstream.
  const upstream = messagesToChat(req.body as AnthropicRequest, target.model);
  applySamplingDefaults(upstream, config, target);
  return {
    url: `${target.baseUrl}/chat/completions`,
    headers: openAIHeaders(target, stream, req.sessionHeaders),
    body: JSON.stringify(upstream),
    respond: (text) => {
      const { body, usage } = chatCompletionToAnthropic(parseJson(text), target.model);
      return { body: JSON.stringify(body), usage };
    },
    pump: () => new TextPump(new OpenAIToAnthropicStream(target.model)),
  };
}

/**
 * The Responses API: passed through to OpenAI's own API as it is; translated to Chat Completions
 * for every other route (and on to Messages for Anthropic), and back, streamed event by event.
 */
function planResponses(req: ClientRequest, target: Target, config: Config): Plan {
  const { stream } = req;
  if (target.responsesApi) {
    return {
      url: `${target.baseUrl}/responses`,
      headers: openAIHeaders(target, stream),
      body: sameFormatBody(req, target, config, undefined, true),
      respond: (text) => usageOnly(text, responsesUsage),
      pump: () => new TextPump(new ResponsesPassthrough()),
      passthrough: true,
    };
  }
  const { chat, shape, warnings } = responsesToChat(req.body, target.model, req.keepItems);
  let whole: Json[] = [];
  let translator: ChatToResponsesStream | AnthropicToResponsesStream | undefined;
  const messages = () => translator?.messages() ?? whole.filter((i) => i.type === "message");
  if (target.wire === "openai") {
    applySamplingDefaults(chat, config, target);
    return {
      url: `${target.baseUrl}/chat/completions`,
      headers: openAIHeaders(target, stream, req.sessionHeaders),
      body: JSON.stringify(chat),
      respond: (text) => {
        const { body, usage, output } = chatCompletionToResponse(parseJson(text), shape);
        whole = output;
        return { body, usage };
      },
      pump: () => {
        translator = new ChatToResponsesStream(shape);
        return new TextPump(translator);
      },
      warnings,
      messages,
    };
  }
  const upstream = chatToMessages(chat, target.model, config.RELAY_ANTHROPIC_DEFAULT_MAX_TOKENS, warnings);
  applySamplingDefaults(upstream, config, target);
  return {
    url: anthropicUrl(target.baseUrl),
    headers: anthropicHeaders(target, stream, {}),
    body: JSON.stringify(upstream),
    respond: (text) => {
      const { body, usage, output } = anthropicToResponse(parseJson<AnthropicResponse>(text), shape);
      whole = output;
      return { body, usage };
    },
    pump: () => {
      translator = new AnthropicToResponsesStream(shape);
      return new TextPump(translator);
    },
    warnings,
    messages,
  };
}
