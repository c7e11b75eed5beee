import type {
  AnthropicBlock,
  AnthropicRequest,
  Json,
  OpenAIChatRequest,
  OpenAIContentPart,
  OpenAIMessage,
  OpenAIToolCall,
} from "./types";

// Anthropic Messages request → OpenAI Chat Completions request, so Anthropic-format clients can
// use every OpenAI-compatible upstream.

function imagePart(block: AnthropicBlock & { type: "image" }): OpenAIContentPart {
  const source = block.source as { type: string; media_type?: string; data?: string; url?: string };
  const url =
    source.type === "base64" ? `data:${source.media_type};base64,${source.data}` : (source.url ?? "");
  return { type: "image_url", image_url: { url } };
}

function toParts(blocks: AnthropicBlock[]): OpenAIContentPart[] {
  const parts: OpenAIContentPart[] = [];
  for (const b of blocks) {
    if (b.type === "text") parts.push({ type: "text", text: String(b.text ?? "") });
    else if (b.type === "image") parts.push(imagePart(b as AnthropicBlock & { type: "image" }));
  }
  return parts;
}

/** Plain text when the content is text only, parts otherwise (some servers accept only strings). */
export function simplifyContent(parts: OpenAIContentPart[]): string | OpenAIContentPart[] {
  return parts.every((p) => p.type === "text") ? parts.map((p) => p.text ?? "").join("") : parts;
}

function toolResultContent(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return (content as AnthropicBlock[]).map((b) => (b.type === "text" ? String(b.text ?? "") : "")).join("");
  }
  return "";
}

export function messagesToChat(req: AnthropicRequest, model: string): OpenAIChatRequest {
  const messages: OpenAIMessage[] = [];
  if (req.system) {
    const text =
      typeof req.system === "string"
        ? req.system
        : toParts(req.system)
            .map((p) => p.text ?? "")
            .join("\n");
    if (text) messages.push({ role: "system", content: text });
  }
  for (const m of req.messages) {
    const blocks: AnthropicBlock[] =
      typeof m.content === "string" ? [{ type: "text", text: m.content }] : m.content;
    if (m.role === "assistant") {
      const calls: OpenAIToolCall[] = [];
      for (const b of blocks) {
        if (b.type === "tool_use") {
          calls.push({
            id: String(b.id),
            type: "function",
            function: { name: String(b.name), arguments: JSON.stringify(b.input ?? {}) },
          });
        }
      }
      const text = toParts(blocks)
        .map((p) => p.text ?? "")
        .join("");
      messages.push({
        role: "assistant",
        content: text || null,
        ...(calls.length ? { tool_calls: calls } : {}),
      });
      continue;
    }
    // A user turn: tool results become tool messages, which must come first.
    for (const b of blocks) {
      if (b.type === "tool_result") {
        const text = toolResultContent(b.content);
        messages.push({
          role: "tool",
          tool_call_id: String(b.tool_use_id),
          content: b.is_error ? `Error: ${text}` : text,
        });
      }
    }
    const parts = toParts(blocks);
    if (parts.length) messages.push({ role: "user", content: simplifyContent(parts) });
  }

  const out: OpenAIChatRequest = { model, messages, max_tokens: req.max_tokens };
  if (req.stream) {
    out.stream = true;
    out.stream_options = { include_usage: true };
  }
  if (typeof req.temperature === "number") out.temperature = req.temperature;
  if (typeof req.top_p === "number") out.top_p = req.top_p;
  if (typeof req.top_k === "number") out.top_k = req.top_k;
  if (req.stop_sequences?.length) out.stop = req.stop_sequences;
  if (req.metadata?.user_id) out.user = req.metadata.user_id;
  const tools = (req.tools ?? []).filter((t) => !t.type || t.type === "custom");
  if (tools.length) {
    out.tools = tools.map((t) => ({
      type: "function",
      function: {
        name: t.name,
        ...(t.description ? { description: t.description } : {}),
        parameters: (t.input_schema as Json | undefined) ?? { type: "object", properties: {} },
      },
    }));
  }
  const choice = req.tool_choice;
  if (choice) {
    if (choice.type === "auto") out.tool_choice = "auto";
    else if (choice.type === "any") out.tool_choice = "required";
    else if (choice.type === "none") out.tool_choice = "none";
    else if (choice.type === "tool" && choice.name)
      out.tool_choice = { type: "function", function: { name: choice.name } };
    if (choice.disable_parallel_tool_use) out.parallel_tool_calls = false;
  }
  return out;
}
