import { exports } from "cloudflare:workers";
import { createOpenAI } from "@ai-sdk/openai";
import { stepCountIs, streamText, tool } from "ai";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { events, gatewayTenant, MOCK, unique, upstreamSaw } from "./gateway-helpers";
import { BASE, call, createTenant } from "./helpers";

// /v1/responses with clients relay did not write: the official openai SDK and the Vercel AI SDK's
// default OpenAI provider, against an OpenAI-compatible upstream (translated to Chat Completions),
// Anthropic (translated to Messages) and OpenAI's own API (passed through).

const self = (exports as unknown as { default: Fetcher }).default;
const viaWorker = ((input: RequestInfo | URL, init?: RequestInit) =>
  self.fetch(new Request(input, init))) as typeof fetch;
const openai = (apiKey: string) =>
  new OpenAI({ apiKey, baseURL: `${BASE}/v1`, fetch: viaWorker, maxRetries: 0 });

/** A tenant whose `openai` credential has no baseUrl: OpenAI's own API (the mock, in tests). */
async function nativeTenant() {
  const tenant = await gatewayTenant();
  await call("/v1/credentials/openai", {
    method: "PUT",
    key: tenant.apiKey,
    json: { apiKey: "sk-test-openai" },
  });
  return tenant;
}

const weatherTools: OpenAI.Responses.FunctionTool[] = [
  {
    type: "function",
    name: "get_weather",
    description: "Current weather",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
    strict: false,
  },
  {
    type: "function",
    name: "get_time",
    description: "Time",
    parameters: { type: "object", properties: {} },
    strict: false,
  },
];

const ROUTES = [
  ["an OpenAI-compatible upstream (translated)", "groq:llama-3.1-8b", "/openai/v1/chat/completions"],
  ["Anthropic (translated)", "claude-sonnet-4-5", "/anthropic/v1/messages"],
  ["OpenAI's own API (passed through)", "gpt-4o-mini", "/openai/v1/responses"],
] as const;

describe("POST /v1/responses with the official openai SDK", () => {
  for (const [route, base, upstreamPath] of ROUTES) {
    it(`answers, streams and calls tools against ${route}`, async () => {
      const { apiKey } = await nativeTenant();
      const client = openai(apiKey);

      const model = unique(base);
      const response = await client.responses.create({ model, input: "ping", instructions: "Be brief." });
      expect(response.output_text).toBe("Hello! You said: ping");
      expect(response.usage?.total_tokens).toBe(18);
      const seen = await upstreamSaw(model.slice(model.indexOf(":") + 1));
      expect(seen[0]?.path).toBe(upstreamPath);

      const stream = client.responses.stream({ model: unique(base), input: "stream please" });
      let text = "";
      stream.on("response.output_text.delta", (e) => {
        text += e.delta;
      });
      const final = await stream.finalResponse();
      expect(text).toBe("Hello! You said: stream please");
      expect(final.status).toBe("completed");
      expect(final.usage?.output_tokens).toBe(7);

      const withTools = await client.responses.create({
        model: unique(base),
        input: [{ role: "user", content: "weather in Paris?" }],
        tools: weatherTools,
      });
      const calls = withTools.output.filter(
        (o): o is OpenAI.Responses.ResponseFunctionToolCall => o.type === "function_call",
      );
      expect(calls.map((c) => c.name)).toEqual(["get_weather", "get_time"]);
      expect(JSON.parse(calls[0]?.arguments ?? "")).toEqual({ city: "Paris", unit: "celsius" });

      const answer = await client.responses.create({
        model: unique(base),
        input: [
          { role: "user", content: "weather in Paris?" },
          ...calls.map((c) => ({
            type: "function_call" as const,
            call_id: c.call_id,
            name: c.name,
            arguments: c.arguments,
          })),
          ...calls.map((c) => ({
            type: "function_call_output" as const,
            call_id: c.call_id,
            output: "sunny",
          })),
        ],
        tools: weatherTools,
      });
      expect(answer.output_text).toBe("It is sunny in Paris.");
    });
  }

  it("streams every event of the Responses grammar, parallel calls included, and records usage", async () => {
    const { apiKey } = await gatewayTenant();
    const res = await call("/v1/responses", {
      method: "POST",
      key: apiKey,
      json: { model: unique("claude-sonnet-4-5"), input: "weather?", tools: weatherTools, stream: true },
    });
    expect(res.status).toBe(200);
    const types = events(res.text).map((e) => e.event);
    expect(types[0]).toBe("response.created");
    expect(types).toContain("response.output_text.delta");
    expect(types.filter((t) => t === "response.function_call_arguments.done")).toHaveLength(2);
    expect(types.at(-1)).toBe("response.completed");
    const seqs = events(res.text).map((e) => JSON.parse(e.data).sequence_number);
    expect(seqs).toEqual(seqs.map((_, i) => i));

    let usage: any;
    for (let i = 0; i < 50 && !usage?.data?.length; i++) {
      usage = (await call("/v1/usage?group_by=model", { key: apiKey })).body;
      if (!usage.data.length) await new Promise((r) => setTimeout(r, 100));
    }
    expect(usage.totals.output_tokens).toBe(7);
  });

  it("refuses what needs server-side state on translated routes, and passes it through to OpenAI", async () => {
    const { apiKey } = await nativeTenant();
    const client = openai(apiKey);
    const refused = client.responses.create({
      model: unique("groq:llama-3.1-8b"),
      input: "hi",
      previous_response_id: "resp_123",
    });
    await expect(refused).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    await expect(refused).rejects.toMatchObject({
      code: "unsupported_parameter",
      param: "previous_response_id",
    });
    const hosted = client.responses.create({
      model: unique("claude-sonnet-4-5"),
      input: "hi",
      tools: [{ type: "web_search" }],
    });
    await expect(hosted).rejects.toMatchObject({ status: 400, param: "tools[0].type" });
    const passed = await client.responses.create({
      model: unique("gpt-4o-mini"),
      input: "hi",
      previous_response_id: "resp_123",
    });
    expect(passed.previous_response_id).toBe("resp_123");
  });

  it("turns upstream failures into errors before the first byte and response.failed after it", async () => {
    const { apiKey } = await gatewayTenant();
    const before = await call("/v1/responses", {
      method: "POST",
      key: apiKey,
      json: { model: unique("groq:llama-3.1-8b", "400"), input: "x", stream: true },
    });
    expect(before.status).toBe(400);
    expect(before.body.error.message).toBe("Invalid value for 'messages'");

    const after = await call("/v1/responses", {
      method: "POST",
      key: apiKey,
      json: { model: unique("claude-sonnet-4-5", "drop"), input: "x y z", stream: true },
    });
    expect(after.status).toBe(200);
    const last = events(after.text).at(-1);
    expect(last?.event).toBe("response.failed");
    expect(JSON.parse(last?.data ?? "{}").response.status).toBe("failed");

    // The client goes away mid-stream: the upstream request is aborted.
    const model = unique("groq:llama-3.1-8b", "stall1500");
    const controller = new AbortController();
    const res = await self.fetch(
      new Request(`${BASE}/v1/responses`, {
        method: "POST",
        headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
        body: JSON.stringify({ model, input: "hi", stream: true }),
        signal: controller.signal,
      }),
    );
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    controller.abort();
    await reader.cancel().catch(() => {});
    let closed = false;
    for (let i = 0; i < 40 && !closed; i++) {
      await new Promise((r) => setTimeout(r, 100));
      closed = (await upstreamSaw(model.slice(5)))[0]?.closedEarly === true;
    }
    expect(closed).toBe(true);
  });
});

describe("the Vercel AI SDK's default OpenAI provider through relay", () => {
  const get_weather = tool({
    description: "Current weather in a city",
    inputSchema: z.object({ city: z.string(), unit: z.string().optional() }),
    execute: async ({ city }) => ({ city, sky: "sunny" }),
  });
  const get_time = tool({
    description: "Time in a timezone",
    inputSchema: z.object({ timezone: z.string() }),
    execute: async ({ timezone }) => ({ timezone, time: "12:00" }),
  });

  for (const [route, base] of ROUTES) {
    it(`streams text and runs a tool loop against ${route}`, async () => {
      const { apiKey } = await nativeTenant();
      const provider = createOpenAI({ baseURL: `${BASE}/v1`, apiKey, fetch: viaWorker });
      const model = unique(base);
      const result = streamText({
        model: provider(model),
        prompt: "Weather in Paris?",
        tools: { get_weather, get_time },
        stopWhen: stepCountIs(3),
      });
      let text = "";
      for await (const delta of result.textStream) text += delta;
      expect(text).toContain("It is sunny in Paris.");
      const steps = await result.steps;
      expect(steps[0]?.toolCalls.map((c) => c.toolName)).toEqual(["get_weather", "get_time"]);
      expect(steps[0]?.toolResults.map((r) => r.output)).toEqual([
        { city: "Paris", sky: "sunny" },
        { timezone: "Europe/Paris", time: "12:00" },
      ]);
    });
  }

  it("keeps relay's own assistant messages so the AI SDK's item references resolve", async () => {
    const { apiKey } = await gatewayTenant();
    const provider = createOpenAI({ baseURL: `${BASE}/v1`, apiKey, fetch: viaWorker });
    const model = unique("claude-sonnet-4-5");
    const result = streamText({
      model: provider(model),
      prompt: "Weather in Paris?",
      tools: { get_weather, get_time },
      stopWhen: stepCountIs(3),
    });
    for await (const _ of result.textStream);
    const second = (await upstreamSaw(model.slice(0)))[1];
    // The first step's text ("Let me check.") came back as a reference and reached the model again.
    const assistant = second?.body.messages.find((m: any) => m.role === "assistant");
    expect(JSON.stringify(assistant?.content)).toContain("Let me check.");
  });
});

describe("POST /v1/messages/count_tokens", () => {
  it("asks Anthropic for Anthropic models and estimates for the rest, saying so", async () => {
    const { apiKey } = await gatewayTenant();
    const body = { messages: [{ role: "user", content: "How many tokens is this sentence, roughly?" }] };
    const exact = await call("/v1/messages/count_tokens", {
      method: "POST",
      key: apiKey,
      json: { ...body, model: unique("claude-sonnet-4-5") },
    });
    expect(exact.status).toBe(200);
    expect(exact.body).toEqual({ input_tokens: 42 });
    expect(exact.headers.get("x-relay-token-count")).toBe("exact");

    const estimate = await call("/v1/messages/count_tokens", {
      method: "POST",
      key: apiKey,
      json: { ...body, model: "groq:llama-3.1-8b" },
    });
    expect(estimate.status).toBe(200);
    expect(estimate.body.input_tokens).toBe(Math.ceil(42 / 3.5) + 3);
    expect(estimate.headers.get("x-relay-token-count")).toMatch(/^estimate/);

    const bad = await call("/v1/messages/count_tokens", {
      method: "POST",
      key: apiKey,
      json: { model: "x" },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.type).toBe("error"); // Anthropic's envelope on /v1/messages/*
    const anon = await createTenant();
    const missing = await call("/v1/messages/count_tokens", {
      method: "POST",
      key: anon.apiKey,
      json: { ...body, model: "claude-sonnet-4-5" },
    });
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toContain("PUT /v1/credentials/anthropic");
  });
});

void MOCK;
