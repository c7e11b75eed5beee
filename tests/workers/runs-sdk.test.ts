import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { SseParser } from "../../common/sse";
import { createAgent, type RunEvent } from "../../sdk/src/index";
import { type Env, loadConfig } from "../../workers/config/env";
import { RequestDb } from "../../workers/db/client";
import { runEvents, usageEvents } from "../../workers/db/schema";
import worker from "../../workers/index";
import { gatewayTenant, unique, upstreamSaw } from "./gateway-helpers";
import { BASE, bindings, call, createTenant } from "./helpers";

// The SDK (sdk/src) against the Worker in workerd, the broker in the test sidecar on Redis, and the
// mock upstream: what a developer's process does with createAgent.

const self = (exports as unknown as { default: Fetcher }).default;
const viaWorker = (input: string, init: RequestInit) => self.fetch(new Request(input, init));

const weather = {
  description: "Current weather in a city",
  inputSchema: z.object({ city: z.string(), unit: z.string().optional() }),
  handler: async ({ city }: { city: string }) => ({ city, sky: "sunny" }),
};
const time = {
  description: "Time in a timezone",
  inputSchema: { type: "object", properties: { timezone: { type: "string" } }, required: ["timezone"] },
  handler: async (input: unknown) => ({ ...(input as object), time: "12:00" }),
};

function agentFor(
  apiKey: string,
  model: string,
  tools: Record<string, unknown> = { get_weather: weather, get_time: time },
) {
  return createAgent({ baseUrl: BASE, apiKey, model, tools: tools as never, fetch: viaWorker });
}

async function collect(run: AsyncIterable<RunEvent>): Promise<RunEvent[]> {
  const out: RunEvent[] = [];
  try {
    for await (const ev of run) out.push(ev);
  } catch {}
  return out;
}

async function storedRun(apiKey: string, id: string) {
  return (await call(`/v1/runs/${id}`, { key: apiKey })).body.run;
}

describe("the SDK against relay", () => {
  for (const [format, model] of [
    ["OpenAI format", "groq:llama-3.1-8b"],
    ["Anthropic format (translated)", "claude-sonnet-4-5"],
  ] as const) {
    it(`runs two tools in parallel in the caller's process (${format})`, async () => {
      const { apiKey } = await gatewayTenant();
      let inFlight = 0;
      let peak = 0;
      const slow = (fn: (i: any) => unknown) => async (input: any) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setTimeout(r, 150));
        inFlight--;
        return fn(input);
      };
      const agent = agentFor(apiKey, unique(model), {
        get_weather: { ...weather, handler: slow(weather.handler) },
        get_time: { ...time, handler: slow(time.handler) },
      });
      const run = agent.run("Weather and time in Paris?");
      const events = await collect(run);
      const result = await run.result();
      expect(result.output).toBe("It is sunny in Paris.");
      expect(peak).toBe(2);
      expect(events.filter((e) => e.type === "tool_call").map((e) => (e as any).name)).toEqual([
        "get_weather",
        "get_time",
      ]);
      expect(events.filter((e) => e.type === "tool_result").map((e) => (e as any).output)).toEqual(
        expect.arrayContaining([
          { city: "Paris", sky: "sunny" },
          { timezone: "Europe/Paris", time: "12:00" },
        ]),
      );
      expect(await storedRun(apiKey, result.runId)).toMatchObject({ status: "completed", iterations: 2 });

      // Every model call of the run is in usage, with the run's id.
      const db = new RequestDb(loadConfig(bindings as unknown as Env));
      try {
        const rows = await db.db.select().from(usageEvents).where(eq(usageEvents.runId, result.runId));
        expect(rows).toHaveLength(2);
        expect(rows.every((r) => r.endpoint === "chat" && r.status === 200)).toBe(true);
      } finally {
        await db.close();
      }
    });
  }

  it("runs a local model through the sidecar", async () => {
    const { apiKey } = await gatewayTenant();
    const result = await agentFor(apiKey, "local:tiny", {}).run("hello").result();
    expect(result.output).toMatch(/^pong from \d+/);
  });

  it("posts an invalid input and a throwing handler back as results the model can read", async () => {
    const { apiKey } = await gatewayTenant();
    const agent = agentFor(apiKey, unique("groq:llama-3.1-8b"), {
      get_weather: { ...weather, inputSchema: z.object({ city: z.number() }) },
      get_time: {
        ...time,
        handler: () => {
          throw new Error("clock is broken");
        },
      },
    });
    const run = agent.run("Weather?");
    const events = await collect(run);
    expect((await run.result()).output).toBe("It is sunny in Paris.");
    const results = events
      .filter((e) => e.type === "tool_result")
      .map((e) => JSON.stringify((e as any).output));
    expect(results.some((r) => r.includes("invalid tool input"))).toBe(true);
    expect(results.some((r) => r.includes("clock is broken"))).toBe(true);
  });

  it("cancels: a run waiting for a tool ends canceled, from the SDK or by a disconnect", async () => {
    const { apiKey } = await gatewayTenant();
    const never = { ...time, handler: () => new Promise(() => {}) };
    const agent = agentFor(apiKey, unique("groq:llama-3.1-8b"), { get_weather: never, get_time: never });
    const run = agent.run("Weather?");
    for await (const ev of run) if (ev.type === "tool_call") break;
    // Leaving the loop aborted the request: relay cancels the run.
    const id = run.runId as string;
    let status = "";
    for (let i = 0; i < 40 && status !== "canceled"; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = (await storedRun(apiKey, id)).status;
    }
    expect(status).toBe("canceled");

    const second = agent.run("Weather?");
    await second.ready();
    for await (const ev of second) if (ev.type === "tool_call") break;
    const other = agent.run("Weather?");
    for await (const ev of other) {
      if (ev.type !== "tool_call") continue;
      const canceled = await call(`/v1/runs/${other.runId}/cancel`, { method: "POST", key: apiKey });
      expect(canceled.status).toBe(200);
      expect(canceled.body.run.status).toBe("canceled");
      break;
    }
    await expect(other.result()).rejects.toMatchObject({ code: "run_canceled" });
    // Canceling again changes nothing; a run that completed cannot be canceled.
    const again = await call(`/v1/runs/${other.runId}/cancel`, { method: "POST", key: apiKey });
    expect(again.status).toBe(200);
    expect(again.body.run.status).toBe("canceled");
    const finished = await agentFor(apiKey, unique("groq:llama-3.1-8b"), {}).run("hi").result();
    const late = await call(`/v1/runs/${finished.runId}/cancel`, { method: "POST", key: apiKey });
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe("run_not_waiting");
  });

  it("aborts the model call in flight when the client disconnects", async () => {
    const { apiKey } = await gatewayTenant();
    const model = unique("groq:llama-3.1-8b", "stall2000");
    const controller = new AbortController();
    const run = agentFor(apiKey, model, {}).run("hi", { signal: controller.signal });
    await run.ready();
    // The model call is in flight (the mock stalls after its first chunk): the client goes away.
    await new Promise((r) => setTimeout(r, 400));
    controller.abort();
    await run.result().catch(() => {});
    let closed = false;
    for (let i = 0; i < 40 && !closed; i++) {
      await new Promise((r) => setTimeout(r, 100));
      closed = (await upstreamSaw(model.slice(5)))[0]?.closedEarly === true;
    }
    expect(closed).toBe(true);
    let status = "";
    for (let i = 0; i < 40 && status !== "canceled"; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = (await storedRun(apiKey, run.runId as string)).status;
    }
    expect(status).toBe("canceled");
  });
});

describe("the run API", () => {
  it("fails a run with tool_result_timeout once RELAY_TOOL_RESULT_TIMEOUT_MS passes", async () => {
    const { apiKey } = await gatewayTenant();
    const ctx = createExecutionContext();
    const started = Date.now();
    const res = await worker.fetch(
      new Request(`${BASE}/v1/runs`, {
        method: "POST",
        headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
        body: JSON.stringify({
          model: unique("groq:llama-3.1-8b"),
          input: "Weather?",
          tools: [
            { kind: "function", name: "get_weather", description: "", inputSchema: { type: "object" } },
          ],
        }),
      }),
      { ...bindings, RELAY_TOOL_RESULT_TIMEOUT_MS: "1000" } as unknown as Env,
      ctx,
    );
    const parser = new SseParser();
    const frames = parser.push(await res.text()).map((e) => ({ at: Date.now(), event: JSON.parse(e.data) }));
    await waitOnExecutionContext(ctx);
    const last = frames.at(-1)?.event;
    expect(last).toMatchObject({ type: "error", code: "tool_result_timeout" });
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(1000);
    expect(elapsed).toBeLessThan(2500);
    expect(await storedRun(apiKey, res.headers.get("x-run-id") as string)).toMatchObject({
      status: "failed",
    });
  });

  it("refuses bad input before the stream, in the envelope", async () => {
    const { apiKey } = await gatewayTenant();
    const post = (json: unknown) => call("/v1/runs", { method: "POST", key: apiKey, json });
    expect((await post({ input: "x" })).body.error.code).toBe("model_required");
    const anon = await createTenant();
    const missing = await call("/v1/runs", {
      method: "POST",
      key: anon.apiKey,
      json: { model: "claude-sonnet-4-5", input: "x" },
    });
    expect(missing.body.error.code).toBe("credential_missing");
    const badSchema = await post({
      model: "groq:x",
      input: "x",
      tools: [{ kind: "function", name: "t", description: "", inputSchema: { type: "string" } }],
    });
    expect(badSchema.status).toBe(400);
    expect(badSchema.body.error).toMatchObject({
      code: "invalid_tool_schema",
      param: "tools[0].inputSchema",
    });
    const builtin = await post({ model: "groq:x", input: "x", tools: [{ kind: "builtin", name: "shell" }] });
    expect(builtin.body.error.code).toBe("invalid_tool_schema");
    expect(
      (await post({ model: "groq:x", input: "x", parentRunId: crypto.randomUUID() })).body.error.code,
    ).toBe("parent_run_not_found");
  });

  it("answers 404 and 409 for results nobody waits for, and keeps tenants apart", async () => {
    const { apiKey } = await gatewayTenant();
    const other = await gatewayTenant();
    const res = await self.fetch(
      new Request(`${BASE}/v1/runs`, {
        method: "POST",
        headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
        body: JSON.stringify({
          model: unique("groq:llama-3.1-8b"),
          input: "Weather?",
          tools: [
            { kind: "function", name: "get_weather", description: "", inputSchema: { type: "object" } },
            { kind: "function", name: "get_time", description: "", inputSchema: { type: "object" } },
          ],
        }),
      }),
    );
    const id = res.headers.get("x-run-id") as string;
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const parser = new SseParser();
    const calls: string[] = [];
    while (calls.length < 2) {
      const { value } = await reader.read();
      for (const ev of parser.push(new TextDecoder().decode(value))) {
        const e = JSON.parse(ev.data);
        if (e.type === "tool_call") calls.push(e.id);
      }
    }
    const post = (key: string, run: string, tool: string, json: unknown = { output: "sunny" }) =>
      call(`/v1/runs/${run}/tool-results/${tool}`, { method: "POST", key, json });

    // Another tenant's key sees no such run on any run route.
    expect((await post(other.apiKey, id, calls[0] as string)).status).toBe(404);
    expect((await call(`/v1/runs/${id}`, { key: other.apiKey })).status).toBe(404);
    expect((await call(`/v1/runs/${id}/events`, { key: other.apiKey })).status).toBe(404);
    expect((await call(`/v1/runs/${id}/cancel`, { method: "POST", key: other.apiKey })).status).toBe(404);
    expect((await call(`/v1/runs`, { key: other.apiKey })).body.runs).toEqual([]);

    expect((await post(apiKey, id, "call_never_issued")).body.error.code).toBe("tool_call_not_found");
    expect((await post(apiKey, id, "~run-end")).status).toBe(404);
    expect((await post(apiKey, id, calls[0] as string, {})).status).toBe(400); // output is required
    expect((await post(apiKey, id, calls[0] as string, { output: null })).status).toBe(200);
    const dup = await post(apiKey, id, calls[0] as string);
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe("tool_result_already_submitted");
    // The run ends while one call still waits: its result is too late.
    expect((await call(`/v1/runs/${id}/cancel`, { method: "POST", key: apiKey })).status).toBe(200);
    for (;;) if ((await reader.read()).done) break;
    const late = await post(apiKey, id, calls[1] as string, { output: 1 });
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe("run_not_waiting");
    expect((await post(apiKey, crypto.randomUUID(), "x")).body.error.code).toBe("run_not_found");
  });

  it("replays stored events by Last-Event-ID exactly as the live client saw them, without a row per token", async () => {
    const { apiKey } = await gatewayTenant();
    const words = Array.from({ length: 1000 }, (_, i) => `w${i}`).join(" ");
    const res = await self.fetch(
      new Request(`${BASE}/v1/runs`, {
        method: "POST",
        headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
        body: JSON.stringify({ model: unique("groq:llama-3.1-8b"), input: words }),
      }),
    );
    const id = res.headers.get("x-run-id") as string;
    const live = await res.text();
    const frames = live
      .split("\n\n")
      .filter(Boolean)
      .map((f) => `${f}\n\n`);
    expect(frames.length).toBeGreaterThan(1000);
    expect(JSON.parse(frames.at(-1)?.split("data: ")[1] ?? "{}").type).toBe("done");

    for (const after of [-1, 0, 7, 500, frames.length - 2]) {
      const replay = await self.fetch(
        new Request(`${BASE}/v1/runs/${id}/events`, {
          headers: {
            authorization: `Bearer ${apiKey}`,
            accept: "text/event-stream",
            ...(after >= 0 ? { "last-event-id": String(after) } : {}),
          },
        }),
      );
      expect(await replay.text()).toBe(frames.slice(after + 1).join(""));
    }
    const db = new RequestDb(loadConfig(bindings as unknown as Env));
    try {
      const rows = await db.db
        .select()
        .from(runEvents)
        .where(and(eq(runEvents.runId, id)));
      expect(rows.length).toBeLessThanOrEqual(5);
    } finally {
      await db.close();
    }
    const listed = await call(`/v1/runs/${id}/events`, { key: apiKey });
    expect(listed.body.events.at(-1).type).toBe("done");
  });

  it("lists runs and builds workflow trees with their summed cost", async () => {
    const { apiKey } = await gatewayTenant();
    const agent = agentFor(apiKey, unique("gpt-4o-mini"), {});
    const root = await agent.run("root").result();
    const child = await agent.run("child", { parentRunId: root.runId }).result();
    const grandchild = await agent.run("grandchild", { parentRunId: child.runId }).result();
    expect(grandchild.workflowId).toBe(root.runId);
    const tree = await call(`/v1/workflows/${root.runId}`, { key: apiKey });
    expect(tree.status).toBe(200);
    expect(tree.body.runs.map((r: any) => r.depth)).toEqual([0, 1, 2]);
    expect(tree.body.cost.runCount).toBe(3);
    expect(tree.body.cost.outputTokens).toBe(21);
    expect(tree.body.cost.costUsd).toBeGreaterThan(0);
    const roots = await call("/v1/runs?roots=true", { key: apiKey });
    expect(roots.body.runs.map((r: any) => r.id)).toEqual([root.runId]);
    const completed = await call("/v1/runs?status=completed&limit=2", { key: apiKey });
    expect(completed.body.runs).toHaveLength(2);
    expect((await call("/v1/runs?status=weird", { key: apiKey })).status).toBe(400);
  });
});
