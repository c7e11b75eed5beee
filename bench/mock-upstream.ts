// The benchmark's upstream: plain Node, answers from pre-serialised buffers so that it costs as
// little as possible and the same for every target. Run as `node bench/mock-upstream.ts <port>`.
//   POST /openai/v1/chat/completions   JSON, or SSE when the body has "stream":true
//   POST /anthropic/v1/messages        JSON, or SSE
// The stream shape comes from the model name `bench-<chunks>-<delayMs>` (default 100 chunks, 0 ms);
// usage is included, as an OpenAI usage chunk when asked and in Anthropic's message events.
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

const chunk = (delta: unknown, finish: string | null = null) =>
  Buffer.from(
    `data: ${JSON.stringify({ id: "chatcmpl-bench", object: "chat.completion.chunk", created, model: "bench", choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`,
  );
const openAIStream = {
  head: chunk({ role: "assistant", content: "" }),
  token: chunk({ content: "token " }),
  tail: chunk({}, "stop"),
  usage: Buffer.from(
    `data: ${JSON.stringify({ id: "chatcmpl-bench", object: "chat.completion.chunk", created, model: "bench", choices: [], usage: { prompt_tokens: 12, completion_tokens: 100, total_tokens: 112 } })}\n\n`,
  ),
  done: Buffer.from("data: [DONE]\n\n"),
};
const ev = (type: string, body: unknown) =>
  Buffer.from(`event: ${type}\ndata: ${JSON.stringify({ type, ...(body as object) })}\n\n`);
const anthropicStream = {
  head: Buffer.concat([
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
  ]),
  token: ev("content_block_delta", { index: 0, delta: { type: "text_delta", text: "token " } }),
  tail: Buffer.concat([
    ev("content_block_stop", { index: 0 }),
    ev("message_delta", {
      delta: { stop_reason: "end_turn", stop_sequence: null },
      usage: { output_tokens: 100 },
    }),
    ev("message_stop", {}),
  ]),
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function stream(
  res: ServerResponse,
  parts: { head: Buffer; token: Buffer; tail: Buffer },
  extra: Buffer[],
  chunks: number,
  delay: number,
) {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  res.write(parts.head);
  if (delay === 0) {
    // Every token in one write: the upstream is as cheap as it can be.
    res.end(Buffer.concat([...Array(chunks).fill(parts.token), parts.tail, ...extra]));
    return;
  }
  for (let i = 0; i < chunks; i++) {
    await sleep(delay);
    if (res.destroyed) return;
    res.write(parts.token);
  }
  res.end(Buffer.concat([parts.tail, ...extra]));
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body: Buffer[] = [];
  for await (const c of req) body.push(c as Buffer);
  const text = Buffer.concat(body).toString();
  const isStream = text.includes('"stream":true');
  const m = /"model":"bench-(\d+)-(\d+)"/.exec(text);
  const chunks = m ? Number(m[1]) : 100;
  const delay = m ? Number(m[2]) : 0;
  if (req.url?.startsWith("/openai/")) {
    if (!isStream) {
      res.writeHead(200, { "content-type": "application/json", "content-length": openAIJson.length });
      res.end(openAIJson);
      return;
    }
    const wantsUsage = text.includes('"include_usage":true');
    return stream(
      res,
      openAIStream,
      wantsUsage ? [openAIStream.usage, openAIStream.done] : [openAIStream.done],
      chunks,
      delay,
    );
  }
  if (req.url?.startsWith("/anthropic/")) {
    if (!isStream) {
      res.writeHead(200, { "content-type": "application/json", "content-length": anthropicJson.length });
      res.end(anthropicJson);
      return;
    }
    return stream(res, anthropicStream, [], chunks, delay);
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
