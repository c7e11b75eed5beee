import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { SseParser } from "../../common/sse";
import { gatewayTenant, unique, upstreamSaw } from "./gateway-helpers";
import { BASE, call } from "./helpers";

// Agent runs against the Worker in workerd, the broker in the test sidecar (on Redis) and the mock
// upstream, driven here as a client would: read the SSE stream, post tool results.

const self = (exports as unknown as { default: Fetcher }).default;

const tools = [
  {
    kind: "function",
    name: "get_weather",
    description: "Current weather",
    inputSchema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
  {
    kind: "function",
    name: "get_time",
    description: "Time in a timezone",
    inputSchema: { type: "object", properties: { timezone: { type: "string" } } },
  },
];

interface Frame {
  id: string | undefined;
  event: any;
}

/** Starts a run and reads its frames; `onFrame` may post tool results while the stream runs. */
async function runThrough(
  apiKey: string,
  body: unknown,
  onFrame: (frame: Frame, runId: string) => Promise<void> | void = () => {},
  signal?: AbortSignal,
): Promise<{ status: number; runId: string; workflowId: string; frames: Frame[]; raw: string; body?: any }> {
  const res = await self.fetch(
    new Request(`${BASE}/v1/runs`, {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
      body: JSON.stringify(body),
      signal,
    }),
  );
  if (res.status !== 200)
    return { status: res.status, runId: "", workflowId: "", frames: [], raw: "", body: await res.json() };
  const runId = res.headers.get("x-run-id") as string;
  const workflowId = res.headers.get("x-workflow-id") as string;
  const frames: Frame[] = [];
  let raw = "";
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const parser = new SseParser();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const text = decoder.decode(value, { stream: true });
    raw += text;
    for (const ev of parser.push(text)) {
      const id = /^id: (\d+)$/m.exec(ev.raw)?.[1];
      const frame = { id, event: JSON.parse(ev.data) };
      frames.push(frame);
      await onFrame(frame, runId);
    }
  }
  return { status: 200, runId, workflowId, frames, raw };
}

const postResult = (apiKey: string, runId: string, toolUseId: string, output: unknown) =>
  call(`/v1/runs/${runId}/tool-results/${encodeURIComponent(toolUseId)}`, {
    method: "POST",
    key: apiKey,
    json: { output },
  });

describe("agent runs", () => {
  for (const [format, model] of [
    ["OpenAI format", "groq:llama-3.1-8b"],
    ["Anthropic format (translated)", "claude-sonnet-4-5"],
  ] as const) {
    it(`runs a two-tool parallel turn in ${format}, then answers`, async () => {
      const { apiKey } = await gatewayTenant();
      const name = unique(model);
      const posted: string[] = [];
      const run = await runThrough(
        apiKey,
        { model: name, input: "Weather and time in Paris?", tools },
        async ({ event }, runId) => {
          if (event.type !== "tool_call") return;
          posted.push(event.name);
          const output = event.name === "get_weather" ? { sky: "sunny", c: 18 } : "12:00";
          const res = await postResult(apiKey, runId, event.id, output);
          expect(res.status, res.text).toBe(200);
        },
      );
      expect(run.status).toBe(200);
      const types = run.frames.map((f) => f.event.type);
      expect(types.filter((t) => t === "tool_call")).toHaveLength(2);
      // Both calls of the turn were issued before either result came back.
      expect(types.indexOf("tool_result")).toBeGreaterThan(types.lastIndexOf("tool_call"));
      expect(types.at(-1)).toBe("done");
      const done = run.frames.at(-1)?.event;
      expect(done.output).toBe("It is sunny in Paris.");
      expect(done.usage.output_tokens).toBe(14);
      expect(run.frames.map((f) => Number(f.id))).toEqual(run.frames.map((_, i) => i));

      // The second model call carried both results.
      const upstreamModel = name.slice(name.indexOf(":") + 1);
      const seen = await upstreamSaw(upstreamModel);
      expect(seen).toHaveLength(2);
      const second = JSON.stringify(seen[1]?.body);
      expect(second).toContain("sunny");
      expect(second).toContain("12:00");

      const stored = await call(`/v1/runs/${run.runId}`, { key: apiKey });
      expect(stored.body.run).toMatchObject({
        status: "completed",
        output: "It is sunny in Paris.",
        iterations: 2,
      });
    });
  }
});
