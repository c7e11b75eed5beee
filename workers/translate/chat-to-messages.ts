import { z } from "zod";
import { errors } from "../../common/errors";
import type {
  AnthropicBlock,
  AnthropicMessage,
  AnthropicRequest,
  AnthropicTool,
  Json,
  OpenAIChatRequest,
  OpenAIContentPart,
  OpenAIMessage,
} from "./types";

// OpenAI Chat Completions request → Anthropic Messages request.

// The gateway checks only what it reads itself and passes the rest through; translating reads the
// whole request, so what it reads is checked first (a number where content belongs is a 400, not a
// crash). Everything else stays as the client sent it.
const contentPart = z.looseObject({
  type: z.string(),
  text: z.string().optional(),
  image_url: z.union([z.string(), z.looseObject({ url: z.string() })]).optional(),
});
const chatMessage = z.looseObject({
  role: z.string(),
  content: z.union([z.string(), z.array(contentPart)]).nullish(),
  tool_calls: z
    .array(
      z.looseObject({ id: z.string(), function: z.looseObject({ name: z.string(), arguments: z.string() }) }),
    )
    .nullish(),
  tool_call_id: z.string().nullish(),
});
const translatable = z.looseObject({
  messages: z.array(chatMessage),
  n: z.number().nullish(),
  max_tokens: z.number().int().positive().nullish(),
  max_completion_tokens: z.number().int().positive().nullish(),
  stop: z.union([z.string(), z.array(z.string())]).nullish(),
  user: z.string().nullish(),
  tools: z
    .array(
      z.looseObject({
        function: z.looseObject({
          name: z.string(),
          description: z.string().nullish(),
          parameters: z.record(z.string(), z.unknown()).nullish(),
        }),
      }),
    )
    .nullish(),
  tool_choice: z
    .union([z.string(), z.looseObject({ function: z.looseObject({ name: z.string() }).optional() })])
    .nullish(),
  reasoning_effort: z.string().nullish(),
  response_format: z.looseObject({ type: z.string(), json_schema: z.looseObject({}).nullish() }).nullish(),
});

function checkTranslatable(req: OpenAIChatRequest): void {
  const result = translatable.safeParse(req);
  if (result.success) return;
  const issue = result.error.issues[0];
  const param = issue?.path.join(".") || null;
  throw errors.badRequest("invalid_request", `${param ?? "body"}: ${issue?.message ?? "invalid"}`, param);
}

function imageBlock(part: OpenAIContentPart): AnthropicBlock {
  const url = typeof part.image_url === "string" ? part.image_url : part.image_url?.url;
  if (!url) throw errors.badRequest("invalid_image", "image_url.url is required", "messages");
  const data = /^data:([^;,]+);base64,(.*)$/s.exec(url);
  if (data)
    return {
      type: "image",
      source: { type: "base64", media_type: data[1] as string, data: data[2] as string },
    };
  if (url.startsWith("data:"))
    throw errors.badRequest("invalid_image", "Image data URLs must be base64", "messages");
  return { type: "image", source: { type: "url", url } };
}

function contentBlocks(content: OpenAIMessage["content"]): AnthropicBlock[] {
  if (content === null || content === undefined) return [];
  if (typeof content === "string") return content === "" ? [] : [{ type: "text", text: content }];
  const blocks: AnthropicBlock[] = [];
  for (const part of content) {
    if (part.type === "text") blocks.push({ type: "text", text: part.text ?? "" });
    else if (part.type === "image_url") blocks.push(imageBlock(part));
    else
      throw errors.badRequest(
        "unsupported_content",
        `Content part '${part.type}' cannot be sent to Anthropic`,
        "messages",
      );
  }
  return blocks;
}

function textOf(content: OpenAIMessage["content"]): string {
  if (typeof content === "string") return content;
  return (content ?? []).map((p) => (p.type === "text" ? (p.text ?? "") : "")).join("");
}

function parseArguments(args: string, name: string): unknown {
  if (!args.trim()) return {};
  try {
    return JSON.parse(args);
  } catch {
    throw errors.badRequest(
      "invalid_tool_arguments",
      `Arguments of the call to '${name}' are not valid JSON`,
      "messages",
    );
  }
}

/** Appends, merging consecutive turns of one role (tool results follow each other as one user turn). */
function push(out: AnthropicMessage[], role: "user" | "assistant", blocks: AnthropicBlock[]): void {
  if (blocks.length === 0) return;
  const last = out[out.length - 1];
  if (last && last.role === role && Array.isArray(last.content)) last.content.push(...blocks);
  else out.push({ role, content: blocks });
}

function responseFormatInstruction(format: OpenAIChatRequest["response_format"]): string | null {
  if (!format || format.type === "text") return null;
  if (format.type === "json_object") return "Respond with a single valid JSON object and nothing else.";
  const schema = format.json_schema?.schema;
  return `Respond with a single valid JSON value and nothing else. It must conform to this JSON Schema:\n${JSON.stringify(schema ?? {})}`;
}

/**
 * Anthropic's extended thinking stands in for OpenAI's reasoning effort: a thinking budget per
 * effort, from Anthropic's minimum (1024) to 32k (beyond which Anthropic advises batch processing).
 */
const THINKING_BUDGETS: Record<string, number> = {
  minimal: 1024,
  low: 2048,
  medium: 8192,
  high: 16384,
  xhigh: 32000,
  max: 32000,
};

/**
 * Turns extended thinking on for a reasoning effort, within Anthropic's constraints: max_tokens
 * above the budget, no temperature or top_k, top_p at 0.95 or more, no forced tool use, and, in a
 * tool loop, the thinking blocks of the turn that called the tools — which the Chat Completions
 * format does not carry, so such a step runs without thinking (and says so).
 */
function applyThinking(out: AnthropicRequest, effort: string, warnings: string[]): void {
  const budget = THINKING_BUDGETS[effort];
  if (budget === undefined) {
    throw errors.badRequest(
      "unsupported_parameter",
      `reasoning effort '${effort}' has no Anthropic equivalent (use ${Object.keys(THINKING_BUDGETS).join(", ")} or none)`,
      "reasoning_effort",
    );
  }
  const skipped = "reasoning effort not applied: Anthropic";
  if (out.tool_choice?.type === "any" || out.tool_choice?.type === "tool") {
    warnings.push(`${skipped} allows no extended thinking when a tool call is forced`);
    return;
  }
  const lastAssistant = out.messages.findLast((m) => m.role === "assistant");
  if (Array.isArray(lastAssistant?.content) && lastAssistant.content.some((b) => b.type === "tool_use")) {
    warnings.push(
      `${skipped} needs the thinking blocks of the turn that called the tools, which this format does not carry`,
    );
    return;
  }
  out.thinking = { type: "enabled", budget_tokens: budget };
  // Thinking counts against max_tokens: keep the room the client gave the answer.
  if (out.max_tokens <= budget) out.max_tokens += budget;
  const dropped: string[] = [];
  if (out.temperature !== undefined) dropped.push("temperature");
  if (out.top_k !== undefined) dropped.push("top_k");
  if (out.top_p !== undefined && out.top_p < 0.95) dropped.push("top_p");
  for (const field of dropped) delete out[field];
  if (dropped.length)
    warnings.push(`${dropped.join(", ")} dropped: Anthropic does not allow them with extended thinking`);
}

/** `warnings` collects what was adjusted without failing the request (for `x-relay-warning`). */
export function chatToMessages(
  req: OpenAIChatRequest,
  model: string,
  defaultMaxTokens: number,
  warnings: string[] = [],
): AnthropicRequest {
  checkTranslatable(req);
  if (req.n !== undefined && req.n !== null && req.n !== 1) {
    throw errors.badRequest("unsupported_parameter", "Anthropic models return one choice: n must be 1", "n");
  }
  const system: string[] = [];
  const messages: AnthropicMessage[] = [];
  for (const m of req.messages) {
    switch (m.role) {
      case "system":
      case "developer":
        system.push(textOf(m.content));
        break;
      case "user":
        push(messages, "user", contentBlocks(m.content));
        break;
      case "assistant": {
        const blocks = contentBlocks(m.content);
        for (const call of m.tool_calls ?? []) {
          blocks.push({
            type: "tool_use",
            id: call.id,
            name: call.function.name,
            input: parseArguments(call.function.arguments, call.function.name),
          });
        }
        push(messages, "assistant", blocks);
        break;
      }
      case "tool":
        push(messages, "user", [
          { type: "tool_result", tool_use_id: m.tool_call_id ?? "", content: contentBlocks(m.content) },
        ]);
        break;
      default:
        throw errors.badRequest("unsupported_role", `Message role '${m.role}' is not supported`, "messages");
    }
  }
  const instruction = responseFormatInstruction(req.response_format);
  if (instruction) system.push(instruction);

  const out: AnthropicRequest = {
    model,
    messages,
    max_tokens: req.max_completion_tokens ?? req.max_tokens ?? defaultMaxTokens,
  };
  const systemText = system.filter((s) => s !== "").join("\n\n");
  if (systemText) out.system = systemText;
  if (req.stream) out.stream = true;
  if (typeof req.temperature === "number") out.temperature = Math.min(req.temperature, 1);
  if (typeof req.top_p === "number") out.top_p = req.top_p;
  if (typeof req.top_k === "number") out.top_k = req.top_k;
  if (req.stop) out.stop_sequences = Array.isArray(req.stop) ? req.stop : [req.stop];
  if (req.user) out.metadata = { user_id: req.user };

  if (req.tools?.length) {
    out.tools = req.tools.map(
      (t): AnthropicTool => ({
        name: t.function.name,
        ...(t.function.description ? { description: t.function.description } : {}),
        input_schema: (t.function.parameters as Json | undefined) ?? { type: "object", properties: {} },
      }),
    );
  }
  const choice = req.tool_choice;
  const noParallel = req.parallel_tool_calls === false ? { disable_parallel_tool_use: true } : {};
  if (choice === "none") out.tool_choice = { type: "none" };
  else if (choice === "required") out.tool_choice = { type: "any", ...noParallel };
  else if (typeof choice === "object" && choice?.function?.name) {
    out.tool_choice = { type: "tool", name: choice.function.name, ...noParallel };
  } else if (out.tools && req.parallel_tool_calls === false)
    out.tool_choice = { type: "auto", ...noParallel };
  if (req.reasoning_effort && req.reasoning_effort !== "none")
    applyThinking(out, req.reasoning_effort, warnings);
  return out;
}
