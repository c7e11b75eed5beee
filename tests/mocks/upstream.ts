import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

/**
 * Mock OpenAI and Anthropic upstreams that answer in the real wire formats: JSON and SSE,
 * errors in each provider's own envelope, `retry-after`. Misbehaviour is chosen per request by
 * flags in the model name, `<model>~flag~flag…~<unique id>`:
 *
 *   429x<N>       the first N requests answer 429 (retry-after: 0), then normal
 *   500           always 500            529   always 529 overloaded (Anthropic)
 *   400           a 400 with a message  slow<N>  wait N ms before the headers
 *   stall<N>      send headers and the first event, then wait N ms before the rest
 *   drop          stream: cut the connection after two events
 *   garbage       stream: a non-JSON data line among the events
 *   huge          a response of about 2 MB
 *   usage<I>x<O>  report I input and O output tokens (instead of the default small numbers)
 *
 * Requests are recorded (GET /_mock/requests?model=…) and so is whether the client went away
 * before the end (`closedEarly`).
 */

export interface Recorded {
  path: string;
  model: string;
  headers: Record<string, string>;
  body: Record<string, unknown>;
  closedEarly: boolean;
}

const recorded: Recorded[] = [];
const counters = new Map<string, number>();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function flags(model: string) {
  const parts = model.split("~");
  const get = (re: RegExp) => parts.map((p) => re.exec(p)).find(Boolean);
  return {
    fail429: Number(get(/^429x(\d+)$/)?.[1] ?? 0),
    always500: parts.includes("500"),
    always529: parts.includes("529"),
    bad400: parts.includes("400"),
    slow: Number(get(/^slow(\d+)$/)?.[1] ?? 0),
    stall: Number(get(/^stall(\d+)$/)?.[1] ?? 0),
    drop: parts.includes("drop"),
    garbage: parts.includes("garbage"),
    huge: parts.includes("huge"),
    usage: ((m) => (m ? { input: Number(m[1]), output: Number(m[2]) } : null))(get(/^usage(\d+)x(\d+)$/)),
  };
}

/** The last user text of a Responses `input` (a string, or items in the long or short form). */
function responsesUserText(input: unknown): string {
  if (typeof input === "string") return input;
  const items = Array.isArray(input) ? (input as Record<string, unknown>[]) : [];
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i] as Record<string, unknown>;
    if (item.role !== "user") continue;
    if (typeof item.content === "string") return item.content;
    const part = (item.content as Record<string, unknown>[]).find((p) => p.type === "input_text");
    if (part) return String(part.text);
  }
  return "";
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * What the real APIs refuse with a 400 before any model runs: a body that is not an object,
 * messages that are not objects with a role, content that is neither text nor a list of typed
 * parts, embeddings input of the wrong type. Returns the offending parameter, or null.
 */
function malformed(path: string, body: unknown): string | null {
  if (!isObject(body)) return "body";
  if (path.endsWith("/embeddings")) {
    const input = body.input;
    const ok = (v: unknown) => typeof v === "string" || typeof v === "number" || Array.isArray(v);
    return typeof input === "string" || (Array.isArray(input) && input.length > 0 && input.every(ok))
      ? null
      : "input";
  }
  if (!("messages" in body)) return null;
  if (!Array.isArray(body.messages)) return "messages";
  for (const [i, m] of body.messages.entries()) {
    if (!isObject(m) || typeof m.role !== "string") return `messages[${i}]`;
    const content = m.content;
    if (content === undefined || content === null || typeof content === "string") continue;
    if (!Array.isArray(content)) return `messages[${i}].content`;
    const bad = content.findIndex((p) => !isObject(p) || typeof p.type !== "string");
    if (bad >= 0) return `messages[${i}].content[${bad}]`;
  }
  return null;
}

function lastUserText(messages: unknown): string {
  const list = Array.isArray(messages) ? (messages as Record<string, unknown>[]) : [];
  for (let i = list.length - 1; i >= 0; i--) {
    const m = list[i] as Record<string, unknown>;
    if (m.role !== "user") continue;
    if (typeof m.content === "string") return m.content;
    if (Array.isArray(m.content)) {
      const text = (m.content as Record<string, unknown>[]).find((p) => p.type === "text");
      if (text) return String(text.text);
    }
  }
  return "";
}

/** Whether the conversation ends in tool results (then the model answers in words). */
function endsWithToolResult(messages: unknown): boolean {
  const list = Array.isArray(messages) ? (messages as Record<string, unknown>[]) : [];
  const last = list[list.length - 1];
  if (!last) return false;
  if (last.role === "tool") return true;
  return (
    Array.isArray(last.content) &&
    (last.content as Record<string, unknown>[]).some((b) => b.type === "tool_result")
  );
}

const TOOL_CALLS = [
  { id: "call_weather_1", name: "get_weather", args: { city: "Paris", unit: "celsius" } },
  { id: "call_time_2", name: "get_time", args: { timezone: "Europe/Paris" } },
];

function answerText(body: Record<string, unknown>, f: ReturnType<typeof flags>): string {
  if (f.huge) return "x".repeat(2_000_000);
  if (endsWithToolResult(body.messages)) return "It is sunny in Paris.";
  return `Hello! You said: ${lastUserText(body.messages)}`;
}

function words(text: string): string[] {
  return text.match(/\S+\s*/g) ?? [text];
}

function sse(res: ServerResponse, data: unknown, event?: string): void {
  res.write(
    `${event ? `event: ${event}\n` : ""}data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`,
  );
}

// ---------------------------------------------------------------- OpenAI

async function openAIChat(body: Record<string, unknown>, res: ServerResponse, f: ReturnType<typeof flags>) {
  const model = String(body.model);
  const tools = Array.isArray(body.tools) && body.tools.length > 0 && !endsWithToolResult(body.messages);
  const text = answerText(body, f);
  const usage = f.usage
    ? {
        prompt_tokens: f.usage.input,
        completion_tokens: f.usage.output,
        total_tokens: f.usage.input + f.usage.output,
        prompt_tokens_details: { cached_tokens: 0 },
      }
    : {
        prompt_tokens: 11,
        completion_tokens: 7,
        total_tokens: 18,
        prompt_tokens_details: { cached_tokens: 3 },
      };
  const id = "chatcmpl-mock123";
  const created = 1_700_000_000;
  if (!body.stream) {
    const message = tools
      ? {
          role: "assistant",
          content: null,
          tool_calls: TOOL_CALLS.map((t) => ({
            id: t.id,
            type: "function",
            function: { name: t.name, arguments: JSON.stringify(t.args) },
          })),
        }
      : { role: "assistant", content: text };
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        id,
        object: "chat.completion",
        created,
        model,
        choices: [{ index: 0, message, logprobs: null, finish_reason: tools ? "tool_calls" : "stop" }],
        usage,
      }),
    );
    return;
  }
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  const chunk = (delta: unknown, finish: string | null = null) => ({
    id,
    object: "chat.completion.chunk",
    created,
    model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  });
  sse(res, chunk({ role: "assistant", content: "" }));
  if (f.stall) await sleep(f.stall);
  if (f.garbage) res.write("data: {this is not json\n\n");
  if (tools) {
    for (const [i, t] of TOOL_CALLS.entries()) {
      sse(
        res,
        chunk({
          tool_calls: [{ index: i, id: t.id, type: "function", function: { name: t.name, arguments: "" } }],
        }),
      );
      const args = JSON.stringify(t.args);
      for (const part of [args.slice(0, 8), args.slice(8)]) {
        sse(res, chunk({ tool_calls: [{ index: i, function: { arguments: part } }] }));
      }
    }
  } else {
    for (const [i, w] of words(text).entries()) {
      if (f.drop && i === 1) {
        // Let what was written reach the client first: a drop mid-stream, not before it.
        await sleep(100);
        res.socket?.destroy();
        return;
      }
      sse(res, chunk({ content: w }));
    }
  }
  sse(res, chunk({}, tools ? "tool_calls" : "stop"));
  const options = body.stream_options as { include_usage?: boolean } | undefined;
  if (options?.include_usage)
    sse(res, { id, object: "chat.completion.chunk", created, model, choices: [], usage });
  sse(res, "[DONE]");
  res.end();
}

function openAIError(
  res: ServerResponse,
  status: number,
  message: string,
  type: string,
  headers: Record<string, string> = {},
) {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(
    JSON.stringify({
      error: {
        message,
        type,
        param: null,
        code: type === "rate_limit_exceeded" ? "rate_limit_exceeded" : null,
      },
    }),
  );
}

// ---------------------------------------------------------------- OpenAI Responses API

async function openAIResponses(
  body: Record<string, unknown>,
  res: ServerResponse,
  f: ReturnType<typeof flags>,
) {
  const model = String(body.model);
  const input = Array.isArray(body.input) ? (body.input as Record<string, unknown>[]) : [];
  const answered = input.some((i) => i.type === "function_call_output");
  const tools = Array.isArray(body.tools) && body.tools.length > 0 && !answered;
  const text = answered ? "It is sunny in Paris." : `Hello! You said: ${responsesUserText(body.input)}`;
  const usage = {
    input_tokens: f.usage?.input ?? 11,
    input_tokens_details: { cached_tokens: f.usage ? 0 : 3 },
    output_tokens: f.usage?.output ?? 7,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: f.usage ? f.usage.input + f.usage.output : 18,
  };
  const id = "resp_mock789";
  const message = {
    id: "msg_mock1",
    type: "message",
    status: "completed",
    role: "assistant",
    content: [{ type: "output_text", text, annotations: [] }],
  };
  const calls = TOOL_CALLS.map((t, i) => ({
    id: `fc_mock${i}`,
    type: "function_call",
    status: "completed",
    call_id: t.id,
    name: t.name,
    arguments: JSON.stringify(t.args),
  }));
  const response = (status: string, output: unknown[], withUsage: boolean) => ({
    id,
    object: "response",
    created_at: 1_700_000_000,
    status,
    model,
    output,
    usage: withUsage ? usage : null,
    error: null,
    incomplete_details: null,
    instructions: body.instructions ?? null,
    metadata: body.metadata ?? {},
    parallel_tool_calls: true,
    store: body.store !== false,
    temperature: body.temperature ?? null,
    tool_choice: "auto",
    tools: body.tools ?? [],
    top_p: null,
    previous_response_id: body.previous_response_id ?? null,
  });
  const output = tools ? calls : [message];
  if (!body.stream) {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(response("completed", output, true)));
    return;
  }
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  let seq = 0;
  const ev = (type: string, data: Record<string, unknown>) =>
    sse(res, { type, sequence_number: seq++, ...data }, type);
  ev("response.created", { response: response("in_progress", [], false) });
  ev("response.in_progress", { response: response("in_progress", [], false) });
  if (f.stall) await sleep(f.stall);
  if (tools) {
    for (const [i, call] of calls.entries()) {
      ev("response.output_item.added", {
        output_index: i,
        item: { ...call, status: "in_progress", arguments: "" },
      });
      ev("response.function_call_arguments.delta", {
        item_id: call.id,
        output_index: i,
        delta: call.arguments,
      });
      ev("response.function_call_arguments.done", {
        item_id: call.id,
        output_index: i,
        arguments: call.arguments,
      });
      ev("response.output_item.done", { output_index: i, item: call });
    }
  } else {
    ev("response.output_item.added", {
      output_index: 0,
      item: { ...message, status: "in_progress", content: [] },
    });
    const part = { type: "output_text", text: "", annotations: [] };
    ev("response.content_part.added", { item_id: message.id, output_index: 0, content_index: 0, part });
    for (const [i, w] of words(text).entries()) {
      if (f.drop && i === 1) {
        await sleep(100);
        res.socket?.destroy();
        return;
      }
      ev("response.output_text.delta", { item_id: message.id, output_index: 0, content_index: 0, delta: w });
    }
    ev("response.output_text.done", { item_id: message.id, output_index: 0, content_index: 0, text });
    ev("response.content_part.done", {
      item_id: message.id,
      output_index: 0,
      content_index: 0,
      part: { ...part, text },
    });
    ev("response.output_item.done", { output_index: 0, item: message });
  }
  ev("response.completed", { response: response("completed", output, true) });
  res.end();
}

// ---------------------------------------------------------------- Anthropic

async function anthropicMessages(
  body: Record<string, unknown>,
  res: ServerResponse,
  f: ReturnType<typeof flags>,
) {
  const model = String(body.model);
  const tools = Array.isArray(body.tools) && body.tools.length > 0 && !endsWithToolResult(body.messages);
  const text = answerText(body, f);
  const usage = {
    input_tokens: f.usage?.input ?? 8,
    cache_read_input_tokens: f.usage ? 0 : 3,
    cache_creation_input_tokens: 0,
    output_tokens: f.usage?.output ?? 7,
  };
  const id = "msg_mock456";
  if (!body.stream) {
    const content = tools
      ? [
          { type: "text", text: "Let me check." },
          ...TOOL_CALLS.map((t) => ({ type: "tool_use", id: t.id, name: t.name, input: t.args })),
        ]
      : [{ type: "text", text }];
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        id,
        type: "message",
        role: "assistant",
        model,
        content,
        stop_reason: tools ? "tool_use" : "end_turn",
        stop_sequence: null,
        usage,
      }),
    );
    return;
  }
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  sse(
    res,
    {
      type: "message_start",
      message: {
        id,
        type: "message",
        role: "assistant",
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { ...usage, output_tokens: 1 },
      },
    },
    "message_start",
  );
  if (f.stall) await sleep(f.stall);
  sse(res, { type: "ping" }, "ping");
  if (f.garbage) res.write("event: content_block_delta\ndata: {garbage\n\n");
  let index = 0;
  if (tools) {
    sse(
      res,
      { type: "content_block_start", index, content_block: { type: "text", text: "" } },
      "content_block_start",
    );
    sse(
      res,
      { type: "content_block_delta", index, delta: { type: "text_delta", text: "Let me check." } },
      "content_block_delta",
    );
    sse(res, { type: "content_block_stop", index }, "content_block_stop");
    for (const t of TOOL_CALLS) {
      index++;
      sse(
        res,
        {
          type: "content_block_start",
          index,
          content_block: { type: "tool_use", id: t.id, name: t.name, input: {} },
        },
        "content_block_start",
      );
      const args = JSON.stringify(t.args);
      for (const part of [args.slice(0, 8), args.slice(8)]) {
        sse(
          res,
          { type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: part } },
          "content_block_delta",
        );
      }
      sse(res, { type: "content_block_stop", index }, "content_block_stop");
    }
  } else {
    sse(
      res,
      { type: "content_block_start", index, content_block: { type: "text", text: "" } },
      "content_block_start",
    );
    for (const [i, w] of words(text).entries()) {
      if (f.drop && i === 1) {
        // Let what was written reach the client first: a drop mid-stream, not before it.
        await sleep(100);
        res.socket?.destroy();
        return;
      }
      sse(
        res,
        { type: "content_block_delta", index, delta: { type: "text_delta", text: w } },
        "content_block_delta",
      );
    }
    sse(res, { type: "content_block_stop", index }, "content_block_stop");
  }
  sse(
    res,
    {
      type: "message_delta",
      delta: { stop_reason: tools ? "tool_use" : "end_turn", stop_sequence: null },
      usage: { output_tokens: usage.output_tokens },
    },
    "message_delta",
  );
  sse(res, { type: "message_stop" }, "message_stop");
  res.end();
}

function anthropicError(
  res: ServerResponse,
  status: number,
  type: string,
  message: string,
  headers: Record<string, string> = {},
) {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify({ type: "error", error: { type, message } }));
}

// ---------------------------------------------------------------- an http guardrail

/** What the mock guardrails were sent: payloads and the bearer token, by behaviour. */
export const guardrailCalls: {
  behaviour: string;
  authorization: string | undefined;
  payload: Record<string, unknown>;
}[] = [];

/**
 * `/guardrail/<behaviour>`: an operator's guardrail service answering the seed's contract.
 *   allow | warn | block     that action (block and warn with a reason)
 *   modify                   replaces "forbidden-word" by "[removed]" in the request or response
 *   slow<N>                  answers allow after N ms      down   500      malformed   not JSON
 */
async function guardrail(
  behaviour: string,
  req: IncomingMessage,
  payload: Record<string, unknown>,
  res: ServerResponse,
): Promise<void> {
  guardrailCalls.push({ behaviour, authorization: req.headers.authorization, payload });
  if (guardrailCalls.length > 500) guardrailCalls.shift();
  const json = (status: number, value: unknown) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(value));
  };
  const slow = /^slow(\d+)$/.exec(behaviour);
  if (slow) {
    await sleep(Number(slow[1]));
    return json(200, { action: "allow", metadata: {} });
  }
  if (behaviour === "down") return json(500, { error: "guardrail service down" });
  if (behaviour === "malformed") {
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("<html>not a verdict</html>");
    return;
  }
  if (behaviour === "modify") {
    const key = payload.mode === "pre_call" ? "request" : "response";
    const rewritten = JSON.parse(JSON.stringify(payload[key]).replaceAll("forbidden-word", "[removed]"));
    return json(200, {
      action: "modify",
      [key]: rewritten,
      reason: "removed a forbidden word",
      metadata: { replaced: 1 },
    });
  }
  if (behaviour === "block") return json(200, { action: "block", reason: "policy says no", metadata: {} });
  if (behaviour === "warn")
    return json(200, { action: "warn", reason: "looks odd", metadata: { score: 0.7 } });
  return json(200, { action: "allow", metadata: {} });
}

// ---------------------------------------------------------------- server

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  let text = "";
  for await (const chunk of req) text += chunk;
  try {
    return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    return { _unparsable: text };
  }
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://mock");
  if (url.pathname === "/_mock/guardrail-calls") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(guardrailCalls));
    return;
  }
  if (url.pathname === "/_mock/requests") {
    const model = url.searchParams.get("model");
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(recorded.filter((r) => !model || r.model === model)));
    return;
  }
  if (req.method === "GET" && url.pathname === "/openai/v1/models") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        object: "list",
        data: [
          { id: "gpt-4o-mini", object: "model", created: 0, owned_by: "openai" },
          { id: "llama-3.1-8b", object: "model", created: 0, owned_by: "meta", context_length: 131072 },
        ],
      }),
    );
    return;
  }
  if (req.method === "GET" && url.pathname === "/anthropic/v1/models") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        data: [{ type: "model", id: "claude-sonnet-4-5", display_name: "Claude Sonnet 4.5" }],
        has_more: false,
      }),
    );
    return;
  }

  const body = await readBody(req);
  if (url.pathname.startsWith("/guardrail/")) {
    await guardrail(url.pathname.slice(11), req, body, res);
    return;
  }
  const bad = malformed(url.pathname, body);
  if (bad) {
    return url.pathname.startsWith("/anthropic/")
      ? anthropicError(res, 400, "invalid_request_error", `${bad}: invalid value`)
      : openAIError(res, 400, `Invalid value for '${bad}'`, "invalid_request_error");
  }
  const model = String(body.model ?? "");
  const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
  const entry: Recorded = { path: url.pathname, model, headers, body, closedEarly: false };
  recorded.push(entry);
  if (recorded.length > 2000) recorded.shift();
  res.on("close", () => {
    if (!res.writableFinished) entry.closedEarly = true;
  });

  const f = flags(model);
  const count = (counters.get(model) ?? 0) + 1;
  counters.set(model, count);
  if (f.slow) await sleep(f.slow);
  const anthropic = url.pathname.startsWith("/anthropic/");

  if (anthropic) {
    if (req.headers["x-api-key"] !== "sk-ant-test")
      return anthropicError(res, 401, "authentication_error", "invalid x-api-key");
    if (f.fail429 >= count)
      return anthropicError(
        res,
        429,
        "rate_limit_error",
        "Number of request tokens has exceeded your per-minute rate limit",
        { "retry-after": "0" },
      );
    if (f.always529) return anthropicError(res, 529, "overloaded_error", "Overloaded");
    if (f.always500) return anthropicError(res, 500, "api_error", "Internal server error");
    if (f.bad400) return anthropicError(res, 400, "invalid_request_error", "messages: roles must alternate");
    if (url.pathname === "/anthropic/v1/messages") return anthropicMessages(body, res, f);
    if (url.pathname === "/anthropic/v1/messages/count_tokens") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ input_tokens: 42 }));
      return;
    }
  } else {
    if (req.headers.authorization !== "Bearer sk-test-openai")
      return openAIError(res, 401, "Incorrect API key provided", "invalid_request_error");
    if (f.fail429 >= count)
      return openAIError(res, 429, "Rate limit reached for requests", "rate_limit_exceeded", {
        "retry-after-ms": "20",
      });
    if (f.always500)
      return openAIError(res, 500, "The server had an error while processing your request.", "server_error");
    if (f.bad400) return openAIError(res, 400, "Invalid value for 'messages'", "invalid_request_error");
    if (url.pathname === "/openai/v1/chat/completions") return openAIChat(body, res, f);
    if (url.pathname === "/openai/v1/responses") return openAIResponses(body, res, f);
    if (url.pathname === "/openai/v1/embeddings") {
      const inputs = Array.isArray(body.input) ? body.input : [body.input];
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          object: "list",
          data: inputs.map((_, i) => ({ object: "embedding", index: i, embedding: [0.1, 0.2, 0.3] })),
          model,
          usage: { prompt_tokens: 5 * inputs.length, total_tokens: 5 * inputs.length },
        }),
      );
      return;
    }
  }
  res.writeHead(404, { "content-type": "application/json" });
  res.end(
    JSON.stringify({ error: { message: `mock: no route ${url.pathname}`, type: "invalid_request_error" } }),
  );
}

export async function startMockUpstream(
  port = 0,
): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    // A bug of the mock answers as a provider's outage would: JSON, no stack, no error text.
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: "mock: internal error", type: "server_error" } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", () => resolve()));
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : port}`;
  return {
    url,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
