import { errors } from "../../common/errors";
import type { Config } from "../config/env";
import type { Target } from "../routing/resolve";
import type { Json } from "../translate/types";

export type Endpoint = "chat" | "messages" | "responses" | "embeddings";

// Fields relay owns: read here, never sent upstream.
export const RELAY_FIELDS = ["models"] as const;

// Sampling fields the local-model world uses beside the official ones; relay knows them so that the
// DEFAULT_* settings and the unknown-field policy agree.
const SAMPLING_EXTRAS = ["top_k", "min_p", "repetition_penalty"];

const KNOWN: Record<Endpoint, Set<string>> = {
  chat: new Set([
    "model",
    "messages",
    "audio",
    "frequency_penalty",
    "function_call",
    "functions",
    "logit_bias",
    "logprobs",
    "max_completion_tokens",
    "max_tokens",
    "metadata",
    "modalities",
    "n",
    "parallel_tool_calls",
    "prediction",
    "presence_penalty",
    "prompt_cache_key",
    "reasoning_effort",
    "response_format",
    "safety_identifier",
    "seed",
    "service_tier",
    "stop",
    "store",
    "stream",
    "stream_options",
    "temperature",
    "tool_choice",
    "tools",
    "top_logprobs",
    "top_p",
    "user",
    "verbosity",
    "web_search_options",
    ...SAMPLING_EXTRAS,
    ...RELAY_FIELDS,
  ]),
  messages: new Set([
    "model",
    "messages",
    "max_tokens",
    "system",
    "metadata",
    "stop_sequences",
    "stream",
    "temperature",
    "top_p",
    "top_k",
    "tools",
    "tool_choice",
    "thinking",
    "service_tier",
    "container",
    "mcp_servers",
    "context_management",
    ...RELAY_FIELDS,
  ]),
  responses: new Set([
    "model",
    "input",
    "instructions",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "max_output_tokens",
    "max_tool_calls",
    "temperature",
    "top_p",
    "top_logprobs",
    "text",
    "reasoning",
    "metadata",
    "user",
    "safety_identifier",
    "prompt_cache_key",
    "service_tier",
    "stream",
    "stream_options",
    "store",
    "previous_response_id",
    "conversation",
    "background",
    "include",
    "prompt",
    "truncation",
    "context_management",
    ...SAMPLING_EXTRAS,
    ...RELAY_FIELDS,
  ]),
  embeddings: new Set(["model", "input", "encoding_format", "dimensions", "user", ...RELAY_FIELDS]),
};

/**
 * RELAY_UNKNOWN_FIELD_POLICY: pass unknown fields through, strip them (named in a warning), or
 * reject the request naming the first one.
 */
export function applyFieldPolicy(endpoint: Endpoint, body: Json, config: Config): string[] {
  const policy = config.RELAY_UNKNOWN_FIELD_POLICY;
  if (policy === "pass_through") return [];
  const known = KNOWN[endpoint];
  const unknown = Object.keys(body).filter((k) => !known.has(k));
  if (unknown.length === 0) return [];
  if (policy === "reject") {
    throw errors.badRequest(
      "unknown_field",
      `Unknown field '${unknown[0]}' (RELAY_UNKNOWN_FIELD_POLICY=reject)`,
      unknown[0],
    );
  }
  for (const k of unknown) delete body[k];
  return [`stripped unknown fields: ${unknown.join(", ")}`];
}

const DEFAULTS = [
  ["temperature", "DEFAULT_TEMPERATURE"],
  ["top_p", "DEFAULT_TOP_P"],
  ["top_k", "DEFAULT_TOP_K"],
  ["min_p", "DEFAULT_MIN_P"],
  ["presence_penalty", "DEFAULT_PRESENCE_PENALTY"],
  ["repetition_penalty", "DEFAULT_REPETITION_PENALTY"],
] as const;

// Which defaults each kind of upstream accepts: OpenAI's API rejects unknown parameters, and
// Anthropic has no penalties. Every other OpenAI-compatible server takes them all.
const ACCEPTS: Record<string, Set<string>> = {
  openai: new Set(["temperature", "top_p", "presence_penalty"]),
  anthropic: new Set(["temperature", "top_p", "top_k"]),
  responses: new Set(["temperature", "top_p"]),
};

/**
 * DEFAULT_* settings fill only what the client did not set, in the body relay sends upstream
 * (`responses` for OpenAI's Responses API, which has no penalties).
 */
export function applySamplingDefaults(body: Json, config: Config, target: Target, responses = false): void {
  const accepts = responses
    ? ACCEPTS.responses
    : target.wire === "anthropic"
      ? ACCEPTS.anthropic
      : target.provider === "openai"
        ? ACCEPTS.openai
        : null;
  // Anthropic refuses temperature and top_k beside extended thinking, and a top_p below 0.95.
  const thinking = target.wire === "anthropic" && body.thinking !== undefined;
  for (const [field, setting] of DEFAULTS) {
    const value = config[setting];
    if (value === undefined || body[field] !== undefined) continue;
    if (accepts && !accepts.has(field)) continue;
    if (thinking && field !== "presence_penalty") continue;
    body[field] = value;
  }
}
