import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import worker from "../../workers/index";
import { gatewayTenant, unique } from "./gateway-helpers";
import { BASE, bindings } from "./helpers";

// The official clients, changed only in base URL and key (and a fetch that reaches the Worker
// under test in-process, where a deployment would use the network).
const self = (exports as unknown as { default: Fetcher }).default;
const viaWorker = ((input: RequestInfo | URL, init?: RequestInit) =>
  self.fetch(new Request(input, init))) as typeof fetch;

const openai = (apiKey: string) =>
  new OpenAI({ apiKey, baseURL: `${BASE}/v1`, fetch: viaWorker, maxRetries: 0 });
const anthropic = (apiKey: string) =>
  new Anthropic({ apiKey, baseURL: BASE, fetch: viaWorker, maxRetries: 0 });

const weatherTool = {
  type: "function" as const,
  function: {
    name: "get_weather",
    description: "Current weather",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
};

describe("official OpenAI SDK through relay", () => {
  for (const [route, model] of [
    ["an OpenAI-compatible upstream", "groq:llama-3.1-8b"],
    ["Anthropic (translated)", "claude-sonnet-4-5"],
  ] as const) {
    it(`chats, streams and calls tools against ${route}`, async () => {
      const { apiKey } = await gatewayTenant();
      const client = openai(apiKey);

      const completion = await client.chat.completions.create({
        model: unique(model),
        messages: [{ role: "user", content: "ping" }],
      });
      expect(completion.choices[0]?.message.content).toBe("Hello! You said: ping");
      expect(completion.usage?.total_tokens).toBe(18);

      const stream = await client.chat.completions.create({
        model: unique(model),
        messages: [{ role: "user", content: "stream please" }],
        stream: true,
        stream_options: { include_usage: true },
      });
      let text = "";
      let usage: OpenAI.CompletionUsage | undefined | null;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? "";
        if (chunk.usage) usage = chunk.usage;
      }
      expect(text).toBe("Hello! You said: stream please");
      expect(usage?.completion_tokens).toBe(7);

      const runner = client.chat.completions.stream({
        model: unique(model),
        messages: [{ role: "user", content: "weather in Paris?" }],
        tools: [weatherTool, { ...weatherTool, function: { ...weatherTool.function, name: "get_time" } }],
      });
      const final = await runner.finalChatCompletion();
      const calls = final.choices[0]?.message.tool_calls ?? [];
      expect(calls.map((c) => (c.type === "function" ? c.function.name : ""))).toEqual([
        "get_weather",
        "get_time",
      ]);
      const first = calls[0];
      expect(first?.type === "function" && JSON.parse(first.function.arguments)).toEqual({
        city: "Paris",
        unit: "celsius",
      });
      expect(final.choices[0]?.finish_reason).toBe("tool_calls");

      const answer = await client.chat.completions.create({
        model: unique(model),
        messages: [
          { role: "user", content: "weather in Paris?" },
          final.choices[0]?.message as OpenAI.ChatCompletionMessageParam,
          ...calls.map((c) => ({ role: "tool" as const, tool_call_id: c.id, content: "sunny" })),
        ],
        tools: [weatherTool],
      });
      expect(answer.choices[0]?.message.content).toBe("It is sunny in Paris.");
    });
  }

  it("surfaces errors as the SDK's typed errors", async () => {
    const { apiKey } = await gatewayTenant();
    const client = openai(apiKey);
    await expect(
      client.chat.completions.create({ model: "nope-model", messages: [{ role: "user", content: "x" }] }),
    ).rejects.toMatchObject({
      status: 400,
      code: "model_not_found",
    });
    const upstream = client.chat.completions.create({
      model: unique("gpt-4o-mini", "400"),
      messages: [{ role: "user", content: "x" }],
    });
    await expect(upstream).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    await expect(openai("relay_live_wrong").models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toContain("claude-sonnet-4-5");
  });
});

describe("official OpenAI SDK with RELAY_STREAM_USAGE_CHUNK=forward", () => {
  it("receives the usage chunk relay asked for as one more chunk, and the helpers take it", async () => {
    const { apiKey } = await gatewayTenant();
    const contexts: ExecutionContext[] = [];
    const forwarding = ((input: RequestInfo | URL, init?: RequestInit) => {
      const ctx = createExecutionContext();
      contexts.push(ctx);
      return worker.fetch(
        new Request(input, init),
        { ...bindings, RELAY_STREAM_USAGE_CHUNK: "forward" } as never,
        ctx,
      );
    }) as typeof fetch;
    const client = new OpenAI({ apiKey, baseURL: `${BASE}/v1`, fetch: forwarding, maxRetries: 0 });

    // The client did not ask for usage: the stream still ends with the chunk relay asked for.
    const stream = await client.chat.completions.create({
      model: unique("groq:llama-3.1-8b"),
      messages: [{ role: "user", content: "stream please" }],
      stream: true,
    });
    const received: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) received.push(chunk);
    expect(received.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe(
      "Hello! You said: stream please",
    );
    const last = received.at(-1);
    expect(last?.choices).toEqual([]);
    expect(last?.usage?.completion_tokens).toBe(7);
    expect(received.slice(0, -1).every((c) => c.choices.length === 1 && !c.usage)).toBe(true);

    // The SDK's stream helper assembles the answer and keeps the usage.
    const final = await client.chat.completions
      .stream({ model: unique("groq:llama-3.1-8b"), messages: [{ role: "user", content: "ping" }] })
      .finalChatCompletion();
    expect(final.choices[0]?.message.content).toBe("Hello! You said: ping");
    expect(final.usage?.total_tokens).toBe(18);
    for (const ctx of contexts) await waitOnExecutionContext(ctx);
  });
});

describe("official Anthropic SDK through relay", () => {
  for (const [route, model] of [
    ["Anthropic", "claude-sonnet-4-5"],
    ["an OpenAI-compatible upstream (translated)", "groq:llama-3.1-8b"],
  ] as const) {
    it(`creates, streams and uses tools against ${route}`, async () => {
      const { apiKey } = await gatewayTenant();
      const client = anthropic(apiKey);

      const message = await client.messages.create({
        model: unique(model),
        max_tokens: 100,
        messages: [{ role: "user", content: "ping" }],
      });
      expect(message.content[0]).toMatchObject({ type: "text", text: "Hello! You said: ping" });
      expect(message.usage.output_tokens).toBe(7);

      const stream = client.messages.stream({
        model: unique(model),
        max_tokens: 100,
        messages: [{ role: "user", content: "stream please" }],
      });
      let text = "";
      stream.on("text", (t) => {
        text += t;
      });
      const final = await stream.finalMessage();
      expect(text).toBe("Hello! You said: stream please");
      expect(final.stop_reason).toBe("end_turn");

      const tools: Anthropic.Tool[] = [
        {
          name: "get_weather",
          description: "Weather",
          input_schema: { type: "object", properties: { city: { type: "string" } } },
        },
        { name: "get_time", description: "Time", input_schema: { type: "object", properties: {} } },
      ];
      const toolStream = client.messages.stream({
        model: unique(model),
        max_tokens: 100,
        tools,
        messages: [{ role: "user", content: "weather?" }],
      });
      const withTools = await toolStream.finalMessage();
      const uses = withTools.content.filter((b): b is Anthropic.ToolUseBlock => b.type === "tool_use");
      expect(uses.map((u) => u.name)).toEqual(["get_weather", "get_time"]);
      expect(uses[0]?.input).toEqual({ city: "Paris", unit: "celsius" });
      expect(withTools.stop_reason).toBe("tool_use");

      const answer = await client.messages.create({
        model: unique(model),
        max_tokens: 100,
        tools,
        messages: [
          { role: "user", content: "weather?" },
          { role: "assistant", content: withTools.content },
          {
            role: "user",
            content: uses.map((u) => ({ type: "tool_result" as const, tool_use_id: u.id, content: "sunny" })),
          },
        ],
      });
      expect(answer.content[0]).toMatchObject({ type: "text", text: "It is sunny in Paris." });
    });
  }

  it("surfaces errors as the SDK's typed errors", async () => {
    const { apiKey } = await gatewayTenant();
    const client = anthropic(apiKey);
    const bad = client.messages.create({
      model: unique("claude-sonnet-4-5", "400"),
      max_tokens: 10,
      messages: [{ role: "user", content: "x" }],
    });
    await expect(bad).rejects.toBeInstanceOf(Anthropic.BadRequestError);
    await expect(bad).rejects.toMatchObject({
      status: 400,
      error: { type: "error", error: { type: "invalid_request_error" } },
    });
    await expect(
      anthropic("relay_live_wrong").messages.create({
        model: "claude-x",
        max_tokens: 1,
        messages: [{ role: "user", content: "x" }],
      }),
    ).rejects.toBeInstanceOf(Anthropic.AuthenticationError);
    const overloaded = client.messages.create({
      model: unique("claude-sonnet-4-5", "529"),
      max_tokens: 10,
      messages: [{ role: "user", content: "x" }],
    });
    await expect(overloaded).rejects.toMatchObject({ status: 529 });
  });
});
