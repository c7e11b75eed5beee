import type { AnthropicUsage, OpenAIUsage, TokenUsage } from "./types";

// Input counts include cached tokens in both directions; Anthropic reports them apart.

export function fromAnthropicUsage(u: Partial<AnthropicUsage> | undefined): TokenUsage {
  const cached = u?.cache_read_input_tokens ?? 0;
  const input = (u?.input_tokens ?? 0) + cached + (u?.cache_creation_input_tokens ?? 0);
  return { input, output: u?.output_tokens ?? 0, cached };
}

export function fromOpenAIUsage(u: Partial<OpenAIUsage> | undefined): TokenUsage {
  return {
    input: u?.prompt_tokens ?? 0,
    output: u?.completion_tokens ?? 0,
    cached: u?.prompt_tokens_details?.cached_tokens ?? 0,
  };
}

export function toOpenAIUsage(t: TokenUsage): OpenAIUsage {
  return {
    prompt_tokens: t.input,
    completion_tokens: t.output,
    total_tokens: t.input + t.output,
    prompt_tokens_details: { cached_tokens: t.cached },
  };
}

export function toAnthropicUsage(t: TokenUsage): AnthropicUsage {
  return { input_tokens: t.input - t.cached, output_tokens: t.output, cache_read_input_tokens: t.cached };
}

/** The Responses API's usage object; reasoning tokens are reported by some upstreams only. */
export interface ResponsesUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

export function toResponsesUsage(t: TokenUsage, reasoning = 0): ResponsesUsage {
  return {
    input_tokens: t.input,
    input_tokens_details: { cached_tokens: t.cached },
    output_tokens: t.output,
    output_tokens_details: { reasoning_tokens: reasoning },
    total_tokens: t.input + t.output,
  };
}

export function fromResponsesUsage(u: Partial<ResponsesUsage> | undefined): TokenUsage {
  return {
    input: u?.input_tokens ?? 0,
    output: u?.output_tokens ?? 0,
    cached: u?.input_tokens_details?.cached_tokens ?? 0,
  };
}
