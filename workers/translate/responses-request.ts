import { z } from "zod";
import { errors, type RelayError } from "../../common/errors";
import { simplifyContent } from "./messages-to-chat";
import { RELAY_MESSAGE_PREFIX, type ResponseShape, responseShape } from "./responses-object";
import type {
  Json,
  OpenAIChatRequest,
  OpenAIContentPart,
  OpenAIMessage,
  OpenAITool,
  OpenAIToolCall,
} from "./types";

// OpenAI Responses request → Chat Completions request, for every upstream but OpenAI's own API
// (which serves Responses and gets the request as it is). Anthropic upstreams take one more step,
// Chat Completions → Messages (chat-to-messages.ts), so there is one Responses translator.
//
// Relay keeps no state on these routes. What needs it (`previous_response_id`, `conversation`,
// `store: true`, `background`, stored `prompt` templates, references to stored items) and what
// needs OpenAI's hosted tools is refused with 400 `unsupported_parameter` naming the field,
// rather than silently answered without it.

const nullableString = z.string().nullish();

const request = z.looseObject({
  input: z.union([z.string(), z.array(z.unknown())]).optional(),
  instructions: nullableString,
  max_output_tokens: z.number().int().positive().nullish(),
  temperature: z.number().nullish(),
  top_p: z.number().nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  user: nullableString,
  metadata: z.record(z.string(), z.string()).nullish(),
  tools: z.array(z.looseObject({ type: z.string() })).nullish(),
  tool_choice: z.union([z.enum(["auto", "none", "required"]), z.looseObject({ type: z.string() })]).nullish(),
  text: z.looseObject({ format: z.looseObject({ type: z.string() }).nullish() }).nullish(),
  reasoning: z.looseObject({ effort: nullableString }).nullish(),
  truncation: z.enum(["auto", "disabled"]).nullish(),
  stream: z.boolean().nullish(),
  store: z.boolean().nullish(),
  background: z.boolean().nullish(),
  previous_response_id: nullableString,
});

type ResponsesRequest = z.infer<typeof request>;

const functionTool = z.looseObject({
  type: z.literal("function"),
  name: z.string().min(1),
  description: nullableString,
  parameters: z.record(z.string(), z.unknown()).nullish(),
  strict: z.boolean().nullish(),
});

const jsonSchemaFormat = z.looseObject({
  type: z.literal("json_schema"),
  name: z.string().min(1),
  schema: z.record(z.string(), z.unknown()),
  description: nullableString,
  strict: z.boolean().nullish(),
});

const part = z.looseObject({ type: z.string() });

const messageItem = z.looseObject({
  role: z.enum(["user", "system", "developer", "assistant"]),
  content: z.union([z.string(), z.array(part)]),
});

const textPart = z.looseObject({ text: z.string() });
const refusalPart = z.looseObject({ refusal: z.string() });
const imagePart = z.looseObject({
  image_url: nullableString,
  file_id: nullableString,
  detail: nullableString,
});

const functionCall = z.looseObject({
  call_id: z.string().min(1),
  name: z.string().min(1),
  arguments: z.string(),
});

const functionCallOutput = z.looseObject({
  call_id: z.string().min(1),
  output: z.union([z.string(), z.array(part)]),
});

const itemReference = z.looseObject({ id: z.string().min(1) });

/** What tells the kind of an item: its type, or, in the short forms, a role or an id alone. */
const anyItem = z.looseObject({
  type: nullableString,
  role: z.unknown().optional(),
  id: z.unknown().optional(),
});

const namedFunction = z.looseObject({ name: z.string().min(1) });

/**
 * Sampling fields outside the Responses API that local and open-model servers take. A client that
 * sends them means them for the upstream, as on Chat Completions; they pass through unchanged.
 */
const SAMPLING_EXTRAS = [
  "top_k",
  "min_p",
  "repetition_penalty",
  "presence_penalty",
  "frequency_penalty",
  "seed",
  "stop",
];

/** `input.3.content.0` → `input[3].content[0]`, the way OpenAI names a param. */
function paramOf(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) out += typeof key === "number" ? `[${key}]` : out ? `.${String(key)}` : String(key);
  return out;
}

function check<S extends z.ZodType>(schema: S, value: unknown, path: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const inner = issue ? paramOf(issue.path) : "";
  const param = !inner ? path : !path || inner.startsWith("[") ? `${path}${inner}` : `${path}.${inner}`;
  throw errors.badRequest("invalid_request", `${param}: ${issue?.message ?? "invalid value"}`, param || null);
}

function unsupported(param: string, message: string): RelayError {
  return errors.badRequest("unsupported_parameter", message, param);
}

/** Refuses what needs state relay does not keep, or OpenAI features it cannot provide. */
function refuseStateful(body: Json, keep: boolean): void {
  const stateless = "relay stores no responses or conversations on translated routes";
  if (body.previous_response_id) {
    throw unsupported(
      "previous_response_id",
      `previous_response_id needs a response stored by the server; ${stateless}. Send the whole conversation in input.`,
    );
  }
  if (body.conversation != null) {
    throw unsupported(
      "conversation",
      `conversation needs a conversation stored by the server; ${stateless}. Send the whole conversation in input.`,
    );
  }
  if (body.store === true && !keep) {
    throw unsupported(
      "store",
      "store: true cannot be honoured: relay keeps response items only with Redis configured. Leave store unset or false.",
    );
  }
  if (body.background === true) {
    throw unsupported(
      "background",
      "Background responses are polled from stored state, which relay does not keep.",
    );
  }
  if (body.prompt != null) {
    throw unsupported(
      "prompt",
      "Prompt templates are stored by OpenAI; relay cannot expand them on this route.",
    );
  }
  if (Array.isArray(body.context_management) && body.context_management.length > 0) {
    throw unsupported("context_management", "Server-side context management is not available on this route.");
  }
}

function textOfParts(
  parts: z.output<typeof part>[],
  path: string,
  accepts: ReadonlySet<string>,
  what: string,
): string {
  let text = "";
  parts.forEach((p, j) => {
    const at = `${path}.content[${j}]`;
    if (!accepts.has(p.type))
      throw unsupported(`${at}.type`, `Content of type '${p.type}' cannot be part of ${what} on this route.`);
    text += p.type === "refusal" ? check(refusalPart, p, at).refusal : check(textPart, p, at).text;
  });
  return text;
}

const SYSTEM_PARTS = new Set(["input_text"]);
const ASSISTANT_PARTS = new Set(["output_text", "refusal", "input_text"]);

/** User content, and tool output given as parts: text and images; files have no equivalent. */
function userParts(parts: z.output<typeof part>[], at: (j: number) => string): OpenAIContentPart[] {
  return parts.map((p, j): OpenAIContentPart => {
    if (p.type === "input_text" || p.type === "output_text")
      return { type: "text", text: check(textPart, p, at(j)).text };
    if (p.type === "input_image") {
      const image = check(imagePart, p, at(j));
      if (image.file_id) {
        throw unsupported(
          `${at(j)}.file_id`,
          "Images given by file_id live in OpenAI's file storage; send image_url (a URL or a data URL).",
        );
      }
      if (!image.image_url)
        throw errors.badRequest("invalid_image", "image_url is required", `${at(j)}.image_url`);
      return {
        type: "image_url",
        image_url: { url: image.image_url, ...(image.detail ? { detail: image.detail } : {}) },
      };
    }
    throw unsupported(`${at(j)}.type`, `Content of type '${p.type}' has no equivalent on this route.`);
  });
}

/** Builds the chat messages; assistant text and the calls right after it share one assistant message. */
class Messages {
  readonly list: OpenAIMessage[] = [];

  private last(): OpenAIMessage | undefined {
    return this.list[this.list.length - 1];
  }

  /** Consecutive system text is joined: many chat templates accept one system message only. */
  system(text: string): void {
    if (!text) return;
    const last = this.last();
    if (last?.role === "system" && typeof last.content === "string") last.content += `\n\n${text}`;
    else this.list.push({ role: "system", content: text });
  }

  user(content: string | OpenAIContentPart[]): void {
    this.list.push({ role: "user", content });
  }

  assistantText(text: string): void {
    this.list.push({ role: "assistant", content: text });
  }

  toolCall(call: OpenAIToolCall): void {
    const last = this.last();
    if (last?.role !== "assistant") this.list.push({ role: "assistant", content: null, tool_calls: [call] });
    else if (last.tool_calls) last.tool_calls.push(call);
    else last.tool_calls = [call];
  }

  toolResult(callId: string, content: string | OpenAIContentPart[]): void {
    this.list.push({ role: "tool", tool_call_id: callId, content });
  }
}

function translateInput(input: ResponsesRequest["input"], out: Messages, warnings: string[]): void {
  if (typeof input === "string") {
    out.user(input);
    return;
  }
  let dropped = 0;
  (input ?? []).forEach((raw, i) => {
    const path = `input[${i}]`;
    const item = check(anyItem, raw, path);
    // The short forms: a message may omit its type, and so may an item reference.
    const type =
      item.type ?? (item.role !== undefined ? "message" : item.id !== undefined ? "item_reference" : "");
    switch (type) {
      case "message": {
        const m = check(messageItem, raw, path);
        if (m.role === "user") {
          if (typeof m.content === "string") out.user(m.content);
          else out.user(simplifyContent(userParts(m.content, (j) => `${path}.content[${j}]`)));
        } else if (m.role === "assistant") {
          const text =
            typeof m.content === "string"
              ? m.content
              : textOfParts(m.content, path, ASSISTANT_PARTS, "an assistant message");
          if (text) out.assistantText(text);
        } else {
          // Chat Completions' `developer` role is OpenAI's alone; `system` means the same everywhere.
          out.system(
            typeof m.content === "string"
              ? m.content
              : textOfParts(m.content, path, SYSTEM_PARTS, `a ${m.role} message`),
          );
        }
        return;
      }
      case "function_call": {
        const call = check(functionCall, raw, path);
        out.toolCall({
          id: call.call_id,
          type: "function",
          function: { name: call.name, arguments: call.arguments },
        });
        return;
      }
      case "function_call_output": {
        const result = check(functionCallOutput, raw, path);
        out.toolResult(
          result.call_id,
          typeof result.output === "string"
            ? result.output
            : simplifyContent(userParts(result.output, (j) => `${path}.output[${j}]`)),
        );
        return;
      }
      case "reasoning":
        // OpenAI's own reasoning (often encrypted) means nothing to another model.
        return;
      case "item_reference": {
        const { id } = check(itemReference, raw, path);
        // The Vercel AI SDK, unless told `store: false`, sends its previous turns' assistant text as
        // references to the message items it received, while it sends function calls in full.
        // Relay keeps the message items it minted while their responses allowed it (store not
        // false, Redis configured), and the gateway puts those back before this runs
        // (gateway/responses-items.ts). A reference to one of relay's items that is still here has
        // expired or was never kept: it is dropped, so a conversation or tool loop still works and
        // the caller is told in a warning. Any other reference points at state relay never had.
        if (id.startsWith(RELAY_MESSAGE_PREFIX)) {
          dropped++;
          return;
        }
        throw unsupported(
          item.type ? `${path}.type` : `${path}.id`,
          `item_reference '${id}' points at an item stored by the server; relay stores none on this route. Send the item itself.`,
        );
      }
      default:
        throw unsupported(
          `${path}.type`,
          type
            ? `Input items of type '${type}' have no equivalent on this route.`
            : "Input items need a type or a role.",
        );
    }
  });
  if (dropped > 0) {
    warnings.push(
      `dropped ${dropped} item_reference(s) to earlier relay messages that relay does not keep (expired, no Redis, or store: false): the model does not see that earlier assistant text; send it as a message instead`,
    );
  }
}

function translateTools(tools: Json[]): OpenAITool[] {
  return tools.map((raw, i) => {
    const type = String(raw.type);
    if (type !== "function") {
      throw unsupported(
        `tools[${i}].type`,
        `Tools of type '${type}' are hosted by OpenAI; on this route only function tools are available.`,
      );
    }
    const t = check(functionTool, raw, `tools[${i}]`);
    return {
      type: "function",
      function: {
        name: t.name,
        ...(t.description ? { description: t.description } : {}),
        ...(t.parameters ? { parameters: t.parameters as Json } : {}),
        ...(typeof t.strict === "boolean" ? { strict: t.strict } : {}),
      },
    };
  });
}

const allowedTools = z.looseObject({
  type: z.literal("allowed_tools"),
  mode: z.enum(["auto", "required"]),
  tools: z.array(z.looseObject({ type: z.string(), name: nullableString })),
});

/** Sets tool_choice, narrowing the tools for `allowed_tools`. */
function translateToolChoice(choice: ResponsesRequest["tool_choice"], chat: OpenAIChatRequest): void {
  if (choice == null) return;
  if (typeof choice === "string") {
    chat.tool_choice = choice;
    return;
  }
  if (choice.type === "function") {
    const { name } = check(namedFunction, choice, "tool_choice");
    chat.tool_choice = { type: "function", function: { name } };
    return;
  }
  if (choice.type === "allowed_tools") {
    const allowed = check(allowedTools, choice, "tool_choice");
    const names = new Set<string>();
    allowed.tools.forEach((t, i) => {
      if (t.type !== "function" || !t.name) {
        throw unsupported(
          `tool_choice.tools[${i}].type`,
          "On this route only function tools are available, named by name.",
        );
      }
      names.add(t.name);
    });
    chat.tools = (chat.tools ?? []).filter((t) => names.has(t.function.name));
    chat.tool_choice = allowed.mode;
    return;
  }
  throw unsupported(
    "tool_choice.type",
    `tool_choice of type '${choice.type}' names a tool hosted by OpenAI.`,
  );
}

function translateFormat(text: ResponsesRequest["text"], chat: OpenAIChatRequest): void {
  const format = text?.format;
  if (!format || format.type === "text") return;
  if (format.type === "json_object") {
    chat.response_format = { type: "json_object" };
    return;
  }
  if (format.type !== "json_schema")
    throw unsupported(
      "text.format.type",
      `text.format of type '${format.type}' has no equivalent on this route.`,
    );
  const f = check(jsonSchemaFormat, format, "text.format");
  chat.response_format = {
    type: "json_schema",
    json_schema: {
      name: f.name,
      schema: f.schema as Json,
      ...(typeof f.strict === "boolean" ? { strict: f.strict } : {}),
      ...(f.description ? { description: f.description } : {}),
    },
  };
}

export interface ResponsesTranslation {
  /** The Chat Completions request for the upstream (for Anthropic, one more step: chatToMessages). */
  chat: OpenAIChatRequest;
  /** What the response objects sent back share (echoed settings, creation time). */
  shape: ResponseShape;
  /** Things the client should know that did not stop the request, for `x-relay-warning`. */
  warnings: string[];
}

/** `keep`: whether relay keeps this response's message items (store not false, Redis configured). */
export function responsesToChat(body: Json, model: string, keep = false): ResponsesTranslation {
  refuseStateful(body, keep);
  const req = check(request, body, "");
  const warnings: string[] = [];
  const messages = new Messages();
  if (req.instructions) messages.system(req.instructions);
  translateInput(req.input, messages, warnings);
  if (messages.list.length === 0) throw errors.badRequest("invalid_request", "input is required", "input");

  const chat: OpenAIChatRequest = { model, messages: messages.list };
  if (req.tools?.length) chat.tools = translateTools(req.tools);
  translateToolChoice(req.tool_choice, chat);
  if (typeof req.parallel_tool_calls === "boolean" && chat.tools?.length)
    chat.parallel_tool_calls = req.parallel_tool_calls;
  // max_tokens rather than max_completion_tokens: every OpenAI-compatible server takes it.
  if (req.max_output_tokens) chat.max_tokens = req.max_output_tokens;
  if (typeof req.temperature === "number") chat.temperature = req.temperature;
  if (typeof req.top_p === "number") chat.top_p = req.top_p;
  if (req.user) chat.user = req.user;
  translateFormat(req.text, chat);
  if (req.reasoning?.effort) chat.reasoning_effort = req.reasoning.effort;
  for (const field of SAMPLING_EXTRAS) {
    if (body[field] !== undefined) chat[field] = body[field];
  }
  if (req.stream) {
    chat.stream = true;
    // Usage is always asked for, so relay can record it and put it in `response.completed`.
    chat.stream_options = { include_usage: true };
  }
  return { chat, shape: responseShape(req, model, keep), warnings };
}
