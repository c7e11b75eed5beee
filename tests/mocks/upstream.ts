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
  };
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
  const usage = {
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
    input_tokens: 8,
    cache_read_input_tokens: 3,
    cache_creation_input_tokens: 0,
    output_tokens: 7,
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
      usage: { output_tokens: 7 },
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
    handle(req, res).catch((err) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(err));
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
