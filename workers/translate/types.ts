// The slices of the OpenAI Chat Completions and Anthropic Messages formats that relay translates.
// Fields relay does not interpret are carried as unknown.

export type Json = Record<string, unknown>;

export interface OpenAIContentPart {
  type: string;
  text?: string;
  image_url?: { url: string; detail?: string } | string;
}

export interface OpenAIToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

export interface OpenAIMessage {
  role: "system" | "developer" | "user" | "assistant" | "tool" | "function";
  content?: string | OpenAIContentPart[] | null;
  name?: string;
  tool_calls?: OpenAIToolCall[];
  tool_call_id?: string;
}

export interface OpenAITool {
  type: "function";
  function: { name: string; description?: string; parameters?: Json; strict?: boolean };
}

export interface OpenAIChatRequest extends Json {
  model: string;
  messages: OpenAIMessage[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean } | null;
  tools?: OpenAITool[];
  tool_choice?: "auto" | "none" | "required" | { type: "function"; function: { name: string } };
  parallel_tool_calls?: boolean;
  stop?: string | string[] | null;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  response_format?: {
    type: "text" | "json_object" | "json_schema";
    json_schema?: { name?: string; schema?: Json; strict?: boolean; description?: string };
  };
  reasoning_effort?: string | null;
  user?: string;
  n?: number | null;
}

export interface OpenAIUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens?: number };
  completion_tokens_details?: { reasoning_tokens?: number };
}

/** A non-streamed Chat Completions answer, as far as relay reads it. */
export interface ChatCompletion {
  id?: string;
  model?: string;
  choices?: {
    message?: { content?: string | null; tool_calls?: OpenAIToolCall[]; refusal?: string | null };
    finish_reason?: string | null;
  }[];
  usage?: OpenAIUsage;
}

/** One streamed tool-call fragment: the first names the call, the rest carry argument text. */
export interface ChatToolCallDelta {
  index?: number;
  id?: string;
  type?: "function";
  function?: { name?: string; arguments?: string };
}

export interface ChatChunkChoice {
  index: number;
  delta: {
    role?: string;
    content?: string | null;
    refusal?: string | null;
    tool_calls?: ChatToolCallDelta[];
  };
  logprobs?: unknown;
  finish_reason: string | null;
}

/** One `chat.completion.chunk`; an OpenAI-compatible server may also send `{ error }` mid-stream. */
export interface ChatChunk {
  id?: string;
  object?: string;
  created?: number;
  model?: string;
  choices?: ChatChunkChoice[];
  usage?: OpenAIUsage | null;
  error?: { message?: string; type?: string; code?: string | number | null };
}

export type AnthropicBlock =
  | { type: "text"; text: string; [k: string]: unknown }
  | {
      type: "image";
      source: { type: "base64"; media_type: string; data: string } | { type: "url"; url: string };
      [k: string]: unknown;
    }
  | { type: "tool_use"; id: string; name: string; input: unknown; [k: string]: unknown }
  | {
      type: "tool_result";
      tool_use_id: string;
      content?: string | AnthropicBlock[];
      is_error?: boolean;
      [k: string]: unknown;
    }
  | { type: "thinking" | "redacted_thinking" | "document" | string; [k: string]: unknown };

export interface AnthropicMessage {
  role: "user" | "assistant";
  content: string | AnthropicBlock[];
}

export interface AnthropicTool {
  name: string;
  description?: string;
  input_schema?: Json;
  type?: string;
}

export interface AnthropicRequest extends Json {
  model: string;
  messages: AnthropicMessage[];
  system?: string | AnthropicBlock[];
  max_tokens: number;
  stream?: boolean;
  tools?: AnthropicTool[];
  tool_choice?: {
    type: "auto" | "any" | "none" | "tool";
    name?: string;
    disable_parallel_tool_use?: boolean;
  };
  stop_sequences?: string[];
  temperature?: number;
  top_p?: number;
  top_k?: number;
  metadata?: { user_id?: string };
  thinking?: { type: "enabled"; budget_tokens: number };
}

export interface AnthropicUsage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
}

export interface AnthropicResponse {
  id: string;
  type: "message";
  role: "assistant";
  model: string;
  content: AnthropicBlock[];
  stop_reason: string | null;
  stop_sequence: string | null;
  usage: AnthropicUsage;
}

/** Token counts relay records for every request, whatever the wire format. */
export interface TokenUsage {
  input: number;
  output: number;
  cached: number;
}
