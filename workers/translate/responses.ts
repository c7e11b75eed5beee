import type {
  AnthropicBlock,
  AnthropicResponse,
  ChatCompletion,
  Json,
  OpenAIToolCall,
  TokenUsage,
} from "./types";
import { fromAnthropicUsage, fromOpenAIUsage, toAnthropicUsage, toOpenAIUsage } from "./usage";

// Non-streamed responses, both directions.

export const ANTHROPIC_TO_OPENAI_FINISH: Record<string, string> = {
  end_turn: "stop",
  stop_sequence: "stop",
  pause_turn: "stop",
  max_tokens: "length",
  model_context_window_exceeded: "length",
  tool_use: "tool_calls",
  refusal: "content_filter",
};

export const OPENAI_TO_ANTHROPIC_STOP: Record<string, string> = {
  stop: "end_turn",
  length: "max_tokens",
  tool_calls: "tool_use",
  function_call: "tool_use",
  content_filter: "refusal",
};

export function openAIId(anthropicId: string): string {
  return `chatcmpl-${anthropicId.replace(/^msg_/, "")}`;
}

export function anthropicId(openaiId: string | undefined): string {
  return `msg_${(openaiId ?? crypto.randomUUID()).replace(/^chatcmpl-/, "")}`;
}

export function anthropicToChatCompletion(res: AnthropicResponse): {
  body: ChatCompletion;
  usage: TokenUsage;
} {
  let text = "";
  const calls: OpenAIToolCall[] = [];
  for (const block of res.content ?? []) {
    if (block.type === "text") text += String(block.text ?? "");
    else if (block.type === "tool_use") {
      calls.push({
        id: String(block.id),
        type: "function",
        function: { name: String(block.name), arguments: JSON.stringify(block.input ?? {}) },
      });
    }
  }
  const usage = fromAnthropicUsage(res.usage);
  const body = {
    id: openAIId(res.id),
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: res.model,
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content: text === "" && calls.length ? null : text,
          ...(calls.length ? { tool_calls: calls } : {}),
          refusal: null,
        },
        logprobs: null,
        finish_reason: ANTHROPIC_TO_OPENAI_FINISH[res.stop_reason ?? ""] ?? "stop",
      },
    ],
    usage: toOpenAIUsage(usage),
  };
  return { body, usage };
}

function parseInput(args: string): unknown {
  try {
    return args.trim() ? JSON.parse(args) : {};
  } catch {
    // A model that emits broken JSON arguments: hand them over rather than lose them.
    return { _raw_arguments: args };
  }
}

export function chatCompletionToAnthropic(
  res: ChatCompletion,
  model: string,
): { body: Json; usage: TokenUsage } {
  const choice = res.choices?.[0];
  const content: AnthropicBlock[] = [];
  const text = choice?.message?.content ?? choice?.message?.refusal;
  if (text) content.push({ type: "text", text });
  for (const call of choice?.message?.tool_calls ?? []) {
    content.push({
      type: "tool_use",
      id: call.id,
      name: call.function.name,
      input: parseInput(call.function.arguments),
    });
  }
  const usage = fromOpenAIUsage(res.usage);
  const body = {
    id: anthropicId(res.id),
    type: "message",
    role: "assistant",
    model: res.model ?? model,
    content,
    stop_reason: OPENAI_TO_ANTHROPIC_STOP[choice?.finish_reason ?? ""] ?? "end_turn",
    stop_sequence: null,
    usage: toAnthropicUsage(usage),
  };
  return { body, usage };
}
