// The benchmark's upstream: plain Node, answers from pre-serialised buffers so that it costs as
// little as possible and the same for every target. Run as `node bench/mock-upstream.ts <port>`.
//   POST /openai/v1/chat/completions   JSON, or SSE when the body has "stream":true
//   POST /anthropic/v1/messages        JSON, or SSE
//   GET  /health                       200, once it listens
// The stream shape comes from the model name `bench-<tokens>-<delayMs>[-once]` (default 100 tokens,
// 0 ms). Streams are sent the way providers send them: one SSE event per write, each write handed to
// the kernel before the next is issued, with `delayMs` before every token event. `-once` is the
// labelled exception: the first event, then everything else in one write.
// Usage is included, as an OpenAI usage chunk when asked and in Anthropic's message events.
// Model `bench-tool` (OpenAI format) is the agent-run turn of the broker bench: without a tool
// result in the conversation it calls the tool `lookup`; with one it answers `woke <ms>`, the
// moment (performance clock, epoch ms) the follow-up call arrived, so the client can time the wake.
// A streamed OpenAI request that offers tools and carries no tool result yet (an agent run's first
// turn) is answered with a call of its first tool instead, the way OpenAI streams one; the next turn
// (with the result) gets the usual text stream.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";

const port = Number(process.argv[2] ?? 0);
const created = 1_700_000_000;

const openAIJson = Buffer.from(
  JSON.stringify({
    id: "chatcmpl-bench",
    object: "chat.completion",
    created,
    model: "bench",
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: "Hello from the benchmark upstream." },
        finish_reason: "stop",
        logprobs: null,
      },
    ],
    usage: { prompt_tokens: 12, completion_tokens: 8, total_tokens: 20 },
  }),
);
const anthropicJson = Buffer.from(
  JSON.stringify({
    id: "msg_bench",
    type: "message",
    role: "assistant",
    model: "bench",
    content: [{ type: "text", text: "Hello from the benchmark upstream." }],
    stop_reason: "end_turn",
    stop_sequence: null,
    usage: { input_tokens: 12, output_tokens: 8 },
  }),
);

/** One stream: its events in order, and which of them are tokens (paced). */
interface Shape {
  events: Buffer[];
  firstToken: number;
  tokens: number;
}

const chunk = (delta: unknown, finish: string | null = null) =>
  Buffer.from(
    `data: ${JSON.stringify({ id: "chatcmpl-bench", object: "chat.completion.chunk", created, model: "bench", choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`,
  );
const openAI = {
  head: [chunk({ role: "assistant", content: "" })],
  token: chunk({ content: "token " }),
  tail: [chunk({}, "stop")],
  usage: Buffer.from(
    `data: ${JSON.stringify({ id: "chatcmpl-bench", object: "chat.completion.chunk", created, model: "bench", choices: [], usage: { prompt_tokens: 12, completion_tokens: 100, total_tokens: 112 } })}\n\n`,
  ),
  done: Buffer.from("data: [DONE]\n\n"),
};
const ev = (type: string, body: unknown) =>
  Buffer.from(`event: ${type}\ndata: ${JSON.stringify({ type, ...(body as object) })}\n\n`);
const anthropic = {
  head: [
    ev("message_start", {
      message: {
        id: "msg_bench",
        type: "message",
        role: "assistant",
        model: "bench",
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 12, output_tokens: 1 },
      },
    }),
    ev("content_block_start", { index: 0, content_block: { type: "text", text: "" } }),
  ],
  token: ev("content_block_delta", { index: 0, delta: { type: "text_delta", text: "token " } }),
  tail: [
    ev("content_block_stop", { index: 0 }),
    ev("message_delta", {
      delta: { stop_reason: "end_turn", stop_sequence: null },
      usage: { output_tokens: 100 },
    }),
    ev("message_stop", {}),
  ],
};

// Built once per shape: the request path stays free of allocation beyond what Node itself does.
const shapes = new Map<string, Shape>();
function shape(format: "openai" | "anthropic", tokens: number, usage: boolean): Shape {
  const key = `${format}-${tokens}-${usage}`;
  let s = shapes.get(key);
  if (!s) {
    const parts = format === "openai" ? openAI : anthropic;
    const end = format === "openai" ? [...(usage ? [openAI.usage] : []), openAI.done] : [];
    s = {
      events: [...parts.head, ...Array<Buffer>(tokens).fill(parts.token), ...parts.tail, ...end],
      firstToken: parts.head.length,
      tokens,
    };
    shapes.set(key, s);
  }
  return s;
}

function stream(res: ServerResponse, s: Shape, delay: number, once: boolean): void {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  if (once) {
    res.write(s.events[0]);
    res.end(Buffer.concat(s.events.slice(1)));
    return;
  }
  const last = s.events.length - 1;
  let i = 0;
  // Each write's callback runs once Node has handed it to the socket; only then is the next one
  // issued, so every event is its own syscall. setImmediate between writes lets the other streams'
  // writes (and the mock's reads) interleave, as independent provider streams would.
  const next = (): void => {
    if (res.destroyed) return;
    const event = s.events[i] as Buffer;
    if (i === last) {
      res.end(event);
      return;
    }
    i++;
    const paced = delay > 0 && i >= s.firstToken && i < s.firstToken + s.tokens;
    res.write(event, (err) => {
      if (err) return;
      if (paced) setTimeout(next, delay);
      else setImmediate(next);
    });
  };
  if (delay > 0 && s.firstToken === 0) setTimeout(next, delay);
  else next();
}

const now = () => performance.timeOrigin + performance.now();

/** One SSE frame per write, as the other streams; the tool call or the answer as one delta. */
function toolTurn(res: ServerResponse, stream: boolean, wokeAt: number | null): void {
  const message =
    wokeAt === null
      ? {
          role: "assistant",
          content: null,
          tool_calls: [
            {
              index: 0,
              id: `call_${Math.random().toString(36).slice(2, 12)}`,
              type: "function",
              function: { name: "lookup", arguments: "{}" },
            },
          ],
        }
      : { role: "assistant", content: `woke ${wokeAt.toFixed(3)}` };
  const finish = wokeAt === null ? "tool_calls" : "stop";
  const usage = { prompt_tokens: 12, completion_tokens: 4, total_tokens: 16 };
  if (!stream) {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        id: "chatcmpl-bench",
        object: "chat.completion",
        created,
        model: "bench",
        choices: [{ index: 0, message, finish_reason: finish, logprobs: null }],
        usage,
      }),
    );
    return;
  }
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  res.write(chunk(message));
  res.write(chunk({}, finish));
  res.write(
    `data: ${JSON.stringify({ id: "chatcmpl-bench", object: "chat.completion.chunk", created, model: "bench", choices: [], usage })}\n\n`,
  );
  res.end(openAI.done);
}

let toolCalls = 0;
/** Arguments the soak's tools accept: the builtin calculator's, or anything for a function tool. */
const toolArguments = (name: string) => (name === "calculator" ? '{"a":6,"b":7,"op":"*"}' : '{"q":"soak"}');

function toolCallShape(text: string): Shape {
  const body = JSON.parse(text) as { tools: { function: { name: string } }[] };
  const name = body.tools[0]?.function.name ?? "tool";
  const call = { index: 0, id: `call_${++toolCalls}`, type: "function", function: { name, arguments: "" } };
  const args = toolArguments(name);
  return {
    events: [
      openAI.head[0] as Buffer,
      chunk({ tool_calls: [call] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: args } }] }),
      chunk({}, "tool_calls"),
      openAI.usage,
      openAI.done,
    ],
    firstToken: 1,
    tokens: 0,
  };
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method === "GET" && req.url === "/health") {
    res.end("ok");
    return;
  }
  const body: Buffer[] = [];
  for await (const c of req) body.push(c as Buffer);
  const text = Buffer.concat(body).toString();
  const isStream = text.includes('"stream":true');
  if (text.includes('"model":"bench-tool"')) {
    const arrived = now();
    return toolTurn(res, isStream, text.includes('"role":"tool"') ? arrived : null);
  }
  const m = /"model":"bench-(\d+)-(\d+)(-once)?"/.exec(text);
  const tokens = m ? Number(m[1]) : 100;
  const delay = m ? Number(m[2]) : 0;
  const once = Boolean(m?.[3]);
  if (req.url?.startsWith("/openai/")) {
    if (!isStream) {
      res.writeHead(200, { "content-type": "application/json", "content-length": openAIJson.length });
      res.end(openAIJson);
      return;
    }
    if (text.includes('"tools":') && !text.includes('"role":"tool"'))
      return stream(res, toolCallShape(text), 0, false);
    return stream(res, shape("openai", tokens, text.includes('"include_usage":true')), delay, once);
  }
  if (req.url?.startsWith("/anthropic/")) {
    if (!isStream) {
      res.writeHead(200, { "content-type": "application/json", "content-length": anthropicJson.length });
      res.end(anthropicJson);
      return;
    }
    return stream(res, shape("anthropic", tokens, false), delay, once);
  }
  res.writeHead(404).end();
}

const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  handle(req, res).catch(() => res.destroy());
});
server.listen(port, "127.0.0.1", () => {
  const address = server.address();
  process.stdout.write(
    `${JSON.stringify({ port: typeof address === "object" && address ? address.port : port })}\n`,
  );
});
process.on("SIGTERM", () => process.exit(0));
