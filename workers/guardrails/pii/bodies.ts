import type { StringRewriter } from "./session";

// Where the text is in each wire format's request and answer bodies. Only what a model reads or
// writes as language is touched: ids, roles, types, model names, tool names and schemas, images
// and file data, and signed reasoning (Anthropic thinking, Responses reasoning) stay as they are.

export type Json = Record<string, unknown>;

export const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** Bare numbers this large may be card numbers (phones and SSNs need separators). */
const CARD_SIZED = 1e12;

/** Rewrites string fields in place and remembers whether anything changed. */
export class Walk {
  changed = false;

  constructor(
    private readonly rw: StringRewriter,
    /** Texts already processed, in → out (a stream's final events repeat its deltas whole). */
    private readonly known?: { text: Map<string, string>; json: Map<string, string> },
  ) {}

  private apply(o: Json | unknown[], key: string | number, json: boolean): void {
    const v = (o as Json)[key as string];
    if (typeof v !== "string" || v === "") return;
    const memo = this.known && (json ? this.known.json : this.known.text);
    let out = memo?.get(v);
    if (out === undefined) {
      out = json ? this.rw.json(v) : this.rw.text(v);
      memo?.set(v, out);
    }
    if (out !== v) {
      (o as Json)[key as string] = out;
      this.changed = true;
    }
  }

  /** A string field read as text. */
  text(o: Json, key: string): void {
    this.apply(o, key, false);
  }

  /** A string field holding JSON text (tool-call arguments). */
  json(o: Json, key: string): void {
    this.apply(o, key, true);
  }

  /** Every string (and card-sized number) inside a decoded JSON value (Anthropic `tool_use.input`). */
  deep(o: Json | unknown[], key: string | number): void {
    const v = (o as Json)[key as string];
    if (typeof v === "string") this.apply(o, key, false);
    else if (typeof v === "number") {
      if (Math.abs(v) < CARD_SIZED || !Number.isInteger(v)) return;
      const digits = String(v);
      const out = this.rw.text(digits);
      if (out !== digits) {
        (o as Json)[key as string] = out;
        this.changed = true;
      }
    } else if (Array.isArray(v)) for (let k = 0; k < v.length; k++) this.deep(v, k);
    else if (isObject(v)) for (const k of Object.keys(v)) this.deep(v, k);
  }

  /** Token log-probabilities spell out the raw text token by token: they cannot stay. */
  drop(o: Json, key: string, empty: null | []): void {
    const v = o[key];
    if (v == null || (Array.isArray(v) && v.length === 0)) return;
    o[key] = empty;
    this.changed = true;
  }
}

function each(list: unknown, visit: (item: Json) => void): void {
  if (!Array.isArray(list)) return;
  for (const item of list) if (isObject(item)) visit(item);
}

// --- OpenAI Chat Completions ---

function chatContent(w: Walk, message: Json): void {
  if (typeof message.content === "string") w.text(message, "content");
  else
    each(message.content, (part) => {
      if (part.type === "text") w.text(part, "text");
      else if (part.type === "refusal") w.text(part, "refusal");
    });
}

function chatToolCalls(w: Walk, message: Json): void {
  each(message.tool_calls, (call) => {
    if (isObject(call.function)) w.json(call.function, "arguments");
  });
  if (isObject(message.function_call)) w.json(message.function_call, "arguments");
}

/**
 * `messages[]`: content strings and text parts, assistant tool-call arguments, tool results; and a
 * predicted output, which the model reads too.
 */
export function chatRequest(w: Walk, body: Json): void {
  each(body.messages, (message) => {
    chatContent(w, message);
    chatToolCalls(w, message);
  });
  if (isObject(body.prediction)) chatContent(w, body.prediction);
}

/** `choices[].message`: content, refusal, tool-call arguments; log-probabilities removed. */
export function chatCompletion(w: Walk, body: Json): void {
  each(body.choices, (choice) => {
    if (isObject(choice.message)) {
      chatContent(w, choice.message);
      if (typeof choice.message.refusal === "string") w.text(choice.message, "refusal");
      chatToolCalls(w, choice.message);
    }
    w.drop(choice, "logprobs", null);
  });
}

// --- Anthropic Messages ---

/** Content blocks, in requests and answers alike. */
export function anthropicBlocks(w: Walk, blocks: unknown): void {
  each(blocks, (block) => {
    switch (block.type) {
      case "text":
        w.text(block, "text");
        each(block.citations, (citation) => w.text(citation, "cited_text"));
        break;
      case "tool_use":
        w.deep(block, "input");
        break;
      case "tool_result":
      case "search_result":
        if (typeof block.content === "string") w.text(block, "content");
        else anthropicBlocks(w, block.content);
        break;
      case "document": {
        const source = block.source;
        if (!isObject(source)) break;
        if (source.type === "text") w.text(source, "data");
        else if (source.type === "content") {
          if (typeof source.content === "string") w.text(source, "content");
          else anthropicBlocks(w, source.content);
        }
        break;
      }
      // thinking and redacted_thinking are signed, images and files are not text: left alone.
    }
  });
}

/** `system` (string or blocks) and every message's content. */
export function messagesRequest(w: Walk, body: Json): void {
  if (typeof body.system === "string") w.text(body, "system");
  else anthropicBlocks(w, body.system);
  each(body.messages, (message) => {
    if (typeof message.content === "string") w.text(message, "content");
    else anthropicBlocks(w, message.content);
  });
}

/** The answer's content blocks. */
export function anthropicMessage(w: Walk, body: Json): void {
  anthropicBlocks(w, body.content);
}

// --- OpenAI Responses ---

function responsesParts(w: Walk, parts: unknown): void {
  each(parts, (part) => {
    switch (part.type) {
      case "input_text":
      case "output_text":
        w.text(part, "text");
        w.drop(part, "logprobs", []);
        break;
      case "refusal":
        w.text(part, "refusal");
        break;
    }
  });
}

/** One input or output item. Items relay does not know (web search, computer use, …) are left as they are. */
export function responsesItem(w: Walk, item: Json): void {
  const type = item.type ?? (typeof item.role === "string" ? "message" : undefined);
  switch (type) {
    case "message":
      if (typeof item.content === "string") w.text(item, "content");
      else responsesParts(w, item.content);
      break;
    case "function_call":
      w.json(item, "arguments");
      break;
    case "custom_tool_call":
      w.text(item, "input");
      break;
    case "function_call_output":
    case "custom_tool_call_output":
      if (typeof item.output === "string") w.text(item, "output");
      else responsesParts(w, item.output);
      break;
    case "mcp_call":
      w.json(item, "arguments");
      w.text(item, "output");
      break;
  }
}

/** `instructions` and `input` (a string or items). */
export function responsesRequest(w: Walk, body: Json): void {
  w.text(body, "instructions");
  if (typeof body.input === "string") w.text(body, "input");
  else each(body.input, (item) => responsesItem(w, item));
}

/** A Response object's `output` items. */
export function responsesOutput(w: Walk, body: Json): void {
  each(body.output, (item) => responsesItem(w, item));
}

/** The `instructions` a Response object repeats from its request (a string or items). */
export function responsesInstructions(w: Walk, body: Json): void {
  if (typeof body.instructions === "string") w.text(body, "instructions");
  else each(body.instructions, (item) => responsesItem(w, item));
}
