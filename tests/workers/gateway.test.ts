import { describe, expect, it } from "vitest";
import { chunks, events, gatewayTenant, MOCK, unique, upstreamSaw } from "./gateway-helpers";
import { call, callWith } from "./helpers";

const hello = [{ role: "user", content: "hi there" }];

describe("routing by model", () => {
  it("passes OpenAI requests through untouched but for the model, with the tenant's key", async () => {
    const { apiKey } = await gatewayTenant();
    const model = unique("gpt-4o-mini");
    const res = await call("/v1/chat/completions", {
      method: "POST",
      key: apiKey,
      json: { model: `openai:${model}`, messages: hello, seed: 7, logit_bias: { "50256": -100 } },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: "chatcmpl-mock123", object: "chat.completion", model });
    expect(res.body.choices[0].message.content).toBe("Hello! You said: hi there");
    expect(res.headers.get("x-relay-provider")).toBe("openai");
    expect(res.headers.get("x-relay-model")).toBe(model);
    expect(res.headers.get("x-relay-attempts")).toBe("1");
    expect(res.headers.get("x-request-id")).toBeTruthy();
    expect(res.headers.get("server-timing")).toMatch(/gateway;dur=\d+.*upstream;dur=\d+/);

    const [seen] = await upstreamSaw(model);
    expect(seen?.path).toBe("/openai/v1/chat/completions");
    expect(seen?.headers.authorization).toBe("Bearer sk-test-openai");
    expect(seen?.body).toEqual({ model, messages: hello, seed: 7, logit_bias: { "50256": -100 } });
  });

  it("routes a named credential's prefix to its base URL", async () => {
    const { apiKey } = await gatewayTenant();
    const model = unique("llama-3.1-8b");
    const res = await call("/v1/chat/completions", {
      method: "POST",
      key: apiKey,
      json: { model: `groq:${model}`, messages: hello },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-relay-provider")).toBe("groq");
    expect((await upstreamSaw(model))[0]?.body.model).toBe(model);
  });

  it("routes RELAY_CLOUD_MODELS entries with the key from auth_env", async () => {
    const { apiKey } = await gatewayTenant();
    const res = await call("/v1/chat/completions", {
      method: "POST",
      key: apiKey,
      json: { model: "deepseek-chat", messages: hello },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-relay-provider")).toBe("cloud");
  });

  it("routes claude-* to Anthropic and gpt-* to OpenAI without a prefix", async () => {
    const { apiKey } = await gatewayTenant();
    const claude = await call("/v1/chat/completions", {
      method: "POST",
      key: apiKey,
      json: { model: unique("claude-sonnet-4-5"), messages: hello },
    });
    expect(claude.headers.get("x-relay-provider")).toBe("anthropic");
    const gpt = await call("/v1/chat/completions", {
      method: "POST",
      key: apiKey,
      json: { model: unique("gpt-4o"), messages: hello },
    });
    expect(gpt.headers.get("x-relay-provider")).toBe("openai");
  });

  it("says which credential is missing, and refuses unknown models", async () => {
    const { apiKey } = await (await import("./helpers")).createTenant();
    const missing = await call("/v1/chat/completions", {
      method: "POST",
      key: apiKey,
      json: { model: "claude-sonnet-4-5", messages: hello },
    });
    expect(missing.status).toBe(400);
    expect(missing.body.error.code).toBe("credential_missing");
    expect(missing.body.error.message).toContain("PUT /v1/credentials/anthropic");

    const unknown = await call("/v1/chat/completions", {
      method: "POST",
      key: apiKey,
      json: { model: "mystery-model", messages: hello },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toMatchObject({ code: "model_not_found", param: "model" });
  });

  it("sends unknown models to RELAY_CLOUD_FALLBACK_URL when set", async () => {
    const { apiKey } = await gatewayTenant();
    const model = unique("mystery-model");
    const res = await callWith(
      { RELAY_CLOUD_FALLBACK_URL: `${MOCK}/openai/v1`, RELAY_CLOUD_FALLBACK_API_KEY: "sk-test-openai" },
      "/v1/chat/completions",
      { method: "POST", key: apiKey, json: { model, messages: hello } },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("x-relay-provider")).toBe("fallback");
  });
});

describe("Chat Completions to Anthropic", () => {
  it("translates the request and the answer", async () => {
    const { apiKey } = await gatewayTenant();
    const model = unique("claude-sonnet-4-5");
    const res = await call("/v1/chat/completions", {
      method: "POST",
      key: apiKey,
      json: {
        model,
        messages: [
          { role: "system", content: "Be brief." },
          { role: "developer", content: "Answer in English." },
          {
            role: "user",
            content: [
              { type: "text", text: "hi there" },
              { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } },
            ],
          },
        ],
        stop: "END",
        temperature: 1.5,
        max_completion_tokens: 321,
        user: "u-42",
      },
    });
    expect(res.status).toBe(200);
    const [seen] = await upstreamSaw(model);
    expect(seen?.path).toBe("/anthropic/v1/messages");
    expect(seen?.headers["x-api-key"]).toBe("sk-ant-test");
    expect(seen?.headers["anthropic-version"]).toBe("2023-06-01");
    expect(seen?.body).toEqual({
      model,
      system: "Be brief.\n\nAnswer in English.",
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "hi there" },
            { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } },
          ],
        },
      ],
      max_tokens: 321,
      temperature: 1,
      stop_sequences: ["END"],
      metadata: { user_id: "u-42" },
    });
    expect(res.body).toMatchObject({
      id: "chatcmpl-mock456",
      object: "chat.completion",
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: "Hello! You said: hi there" },
          finish_reason: "stop",
        },
      ],
      usage: {
        prompt_tokens: 11,
        completion_tokens: 7,
        total_tokens: 18,
        prompt_tokens_details: { cached_tokens: 3 },
      },
    });
  });

  it("streams valid chat.completion.chunk events, with usage when asked", async () => {
    const { apiKey } = await gatewayTenant();
    const res = await call("/v1/chat/completions", {
      method: "POST",
      key: apiKey,
      json: {
        model: unique("claude-sonnet-4-5"),
        messages: hello,
        stream: true,
        stream_options: { include_usage: true },
      },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const all = events(res.text);
    expect(all.at(-1)?.data).toBe("[DONE]");
    const list = chunks(res.text);
    expect(list[0].choices[0].delta).toEqual({ role: "assistant", content: "" });
    expect(list.every((c) => c.object === "chat.completion.chunk" && c.id === "chatcmpl-mock456")).toBe(true);
    const text = list.map((c) => c.choices[0]?.delta?.content ?? "").join("");
    expect(text).toBe("Hello! You said: hi there");
    const finishes = list.filter((c) => c.choices[0]?.finish_reason);
    expect(finishes).toHaveLength(1);
    expect(finishes[0].choices[0].finish_reason).toBe("stop");
    expect(list.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 11, completion_tokens: 7 } });
  });

  it("streams parallel tool calls with stable indices", async () => {
    const { apiKey } = await gatewayTenant();
    const res = await call("/v1/chat/completions", {
      method: "POST",
      key: apiKey,
      json: {
        model: unique("claude-sonnet-4-5"),
        messages: [{ role: "user", content: "weather and time in Paris?" }],
        stream: true,
        tools: [
          {
            type: "function",
            function: {
              name: "get_weather",
              parameters: { type: "object", properties: { city: { type: "string" } } },
            },
          },
          {
            type: "function",
            function: { name: "get_time", parameters: { type: "object", properties: {} } },
          },
        ],
      },
    });
    const list = chunks(res.text);
    const calls = new Map<number, { id?: string; name?: string; args: string }>();
    for (const c of list) {
      for (const tc of c.choices[0]?.delta?.tool_calls ?? []) {
        const entry = calls.get(tc.index) ?? { args: "" };
        if (tc.id) entry.id = tc.id;
        if (tc.function?.name) entry.name = tc.function.name;
        entry.args += tc.function?.arguments ?? "";
        calls.set(tc.index, entry);
      }
    }
    expect([...calls.keys()]).toEqual([0, 1]);
    expect(calls.get(0)).toMatchObject({ id: "call_weather_1", name: "get_weather" });
    expect(JSON.parse(calls.get(0)?.args ?? "")).toEqual({ city: "Paris", unit: "celsius" });
    expect(JSON.parse(calls.get(1)?.args ?? "")).toEqual({ timezone: "Europe/Paris" });
    expect(list.filter((c) => c.choices[0]?.finish_reason).map((c) => c.choices[0].finish_reason)).toEqual([
      "tool_calls",
    ]);
    // No usage chunk was asked for.
    expect(list.some((c) => c.usage)).toBe(false);
  });

  it("sends tool results back as tool_result blocks in one user turn", async () => {
    const { apiKey } = await gatewayTenant();
    const model = unique("claude-sonnet-4-5");
    const res = await call("/v1/chat/completions", {
      method: "POST",
      key: apiKey,
      json: {
        model,
        tool_choice: "required",
        parallel_tool_calls: false,
        tools: [
          {
            type: "function",
            function: { name: "get_weather", description: "Weather", parameters: { type: "object" } },
          },
        ],
        messages: [
          { role: "user", content: "weather?" },
          {
            role: "assistant",
            content: null,
            tool_calls: [
              {
                id: "call_a",
                type: "function",
                function: { name: "get_weather", arguments: '{"city":"Paris"}' },
              },
              {
                id: "call_b",
                type: "function",
                function: { name: "get_weather", arguments: '{"city":"Rome"}' },
              },
            ],
          },
          { role: "tool", tool_call_id: "call_a", content: "sunny" },
          { role: "tool", tool_call_id: "call_b", content: "rainy" },
        ],
      },
    });
    expect(res.status).toBe(200);
    expect(res.body.choices[0].message.content).toBe("It is sunny in Paris.");
    const [seen] = await upstreamSaw(model);
    expect(seen?.body.messages).toEqual([
      { role: "user", content: [{ type: "text", text: "weather?" }] },
      {
        role: "assistant",
        content: [
          { type: "tool_use", id: "call_a", name: "get_weather", input: { city: "Paris" } },
          { type: "tool_use", id: "call_b", name: "get_weather", input: { city: "Rome" } },
        ],
      },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "call_a", content: [{ type: "text", text: "sunny" }] },
          { type: "tool_result", tool_use_id: "call_b", content: [{ type: "text", text: "rainy" }] },
        ],
      },
    ]);
    expect(seen?.body.tools).toEqual([
      { name: "get_weather", description: "Weather", input_schema: { type: "object" } },
    ]);
    expect(seen?.body.tool_choice).toEqual({ type: "any", disable_parallel_tool_use: true });
  });
});

describe("streaming to OpenAI-compatible upstreams", () => {
  it("asks for usage and removes the usage chunk the client did not ask for", async () => {
    const { apiKey } = await gatewayTenant();
    const model = unique("gpt-4o-mini");
    const res = await call("/v1/chat/completions", {
      method: "POST",
      key: apiKey,
      json: { model, messages: hello, stream: true },
    });
    expect((await upstreamSaw(model))[0]?.body.stream_options).toEqual({ include_usage: true });
    const list = chunks(res.text);
    expect(list.some((c) => c.usage)).toBe(false);
    expect(list.map((c) => c.choices[0]?.delta?.content ?? "").join("")).toBe("Hello! You said: hi there");
    expect(events(res.text).at(-1)?.data).toBe("[DONE]");
  });

  it("keeps the usage chunk when the client asked for it", async () => {
    const { apiKey } = await gatewayTenant();
    const res = await call("/v1/chat/completions", {
      method: "POST",
      key: apiKey,
      json: {
        model: unique("gpt-4o-mini"),
        messages: hello,
        stream: true,
        stream_options: { include_usage: true },
      },
    });
    expect(chunks(res.text).at(-1)).toMatchObject({ choices: [], usage: { total_tokens: 18 } });
  });
});

describe("Anthropic Messages endpoint", () => {
  it("passes through to Anthropic, streamed and not, with the client's anthropic-version", async () => {
    const { apiKey } = await gatewayTenant();
    const model = unique("claude-sonnet-4-5");
    const res = await call("/v1/messages", {
      method: "POST",
      headers: {
        "x-api-key": apiKey,
        "anthropic-version": "2023-06-01",
        "anthropic-beta": "tools-2024-04-04",
      },
      json: { model: `anthropic:${model}`, max_tokens: 100, messages: hello },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: "msg_mock456",
      type: "message",
      content: [{ type: "text", text: "Hello! You said: hi there" }],
    });
    const [seen] = await upstreamSaw(model);
    expect(seen?.body).toEqual({ model, max_tokens: 100, messages: hello });
    expect(seen?.headers["anthropic-beta"]).toBe("tools-2024-04-04");

    const streamed = await call("/v1/messages", {
      method: "POST",
      key: apiKey,
      json: { model, max_tokens: 100, messages: hello, stream: true },
    });
    const names = events(streamed.text).map((e) => e.event);
    expect(names[0]).toBe("message_start");
    expect(names.at(-1)).toBe("message_stop");
    expect(names).toContain("ping");
  });

  it("translates to OpenAI-compatible upstreams, streamed and not", async () => {
    const { apiKey } = await gatewayTenant();
    const model = unique("llama-3.1-8b");
    const res = await call("/v1/messages", {
      method: "POST",
      key: apiKey,
      json: {
        model: `groq:${model}`,
        max_tokens: 100,
        system: "Be brief.",
        messages: hello,
        stop_sequences: ["END"],
      },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: "msg_mock123",
      type: "message",
      role: "assistant",
      content: [{ type: "text", text: "Hello! You said: hi there" }],
      stop_reason: "end_turn",
      usage: { input_tokens: 8, output_tokens: 7, cache_read_input_tokens: 3 },
    });
    const [seen] = await upstreamSaw(model);
    expect(seen?.body).toEqual({
      model,
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "hi there" },
      ],
      max_tokens: 100,
      stop: ["END"],
    });

    const streamed = await call("/v1/messages", {
      method: "POST",
      key: apiKey,
      json: { model: `groq:${unique("llama-3.1-8b")}`, max_tokens: 100, messages: hello, stream: true },
    });
    const list = events(streamed.text);
    expect(list.map((e) => e.event)).toEqual([
      "message_start",
      "content_block_start",
      ...Array(5).fill("content_block_delta"),
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
    const text = list
      .filter((e) => e.event === "content_block_delta")
      .map((e) => JSON.parse(e.data).delta.text)
      .join("");
    expect(text).toBe("Hello! You said: hi there");
    expect(JSON.parse(list.at(-2)?.data ?? "")).toMatchObject({
      delta: { stop_reason: "end_turn" },
      usage: { output_tokens: 7, input_tokens: 8, cache_read_input_tokens: 3 },
    });
  });

  it("streams OpenAI tool calls as tool_use blocks", async () => {
    const { apiKey } = await gatewayTenant();
    const res = await call("/v1/messages", {
      method: "POST",
      key: apiKey,
      json: {
        model: `groq:${unique("llama-3.1-8b")}`,
        max_tokens: 100,
        stream: true,
        tools: [
          { name: "get_weather", input_schema: { type: "object" } },
          { name: "get_time", input_schema: { type: "object" } },
        ],
        messages: [{ role: "user", content: "weather?" }],
      },
    });
    const list = events(res.text).map((e) => JSON.parse(e.data));
    const starts = list.filter((e) => e.type === "content_block_start").map((e) => e.content_block);
    expect(starts).toEqual([
      { type: "tool_use", id: "call_weather_1", name: "get_weather", input: {} },
      { type: "tool_use", id: "call_time_2", name: "get_time", input: {} },
    ]);
    const args = (index: number) =>
      list
        .filter((e) => e.type === "content_block_delta" && e.index === index)
        .map((e) => e.delta.partial_json)
        .join("");
    expect(JSON.parse(args(0))).toEqual({ city: "Paris", unit: "celsius" });
    expect(JSON.parse(args(1))).toEqual({ timezone: "Europe/Paris" });
    expect(list.find((e) => e.type === "message_delta").delta.stop_reason).toBe("tool_use");
  });

  it("answers errors in Anthropic's envelope", async () => {
    const { apiKey } = await gatewayTenant();
    const res = await call("/v1/messages", {
      method: "POST",
      key: apiKey,
      json: { model: unique("claude-sonnet-4-5", "400"), max_tokens: 10, messages: hello },
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({
      type: "error",
      error: { type: "invalid_request_error", message: "messages: roles must alternate" },
    });
    const unauth = await call("/v1/messages", {
      method: "POST",
      json: { model: "x", max_tokens: 1, messages: hello },
    });
    expect(unauth.status).toBe(401);
    expect(unauth.body).toMatchObject({ type: "error", error: { type: "authentication_error" } });
    const invalid = await call("/v1/messages", {
      method: "POST",
      key: apiKey,
      json: { model: "claude-x", messages: hello },
    });
    expect(invalid.status).toBe(400);
    expect(invalid.body.type).toBe("error");
  });
});

describe("embeddings and models", () => {
  it("proxies embeddings and refuses Anthropic models for them", async () => {
    const { apiKey } = await gatewayTenant();
    const res = await call("/v1/embeddings", {
      method: "POST",
      key: apiKey,
      json: { model: unique("text-embedding-3-small"), input: ["a", "b"] },
    });
    expect(res.status).toBe(200);
    expect(res.body.data).toHaveLength(2);
    expect(res.body.usage.prompt_tokens).toBe(10);
    const claude = await call("/v1/embeddings", {
      method: "POST",
      key: apiKey,
      json: { model: "claude-sonnet-4-5", input: "a" },
    });
    expect(claude.status).toBe(400);
    expect(claude.body.error.code).toBe("unsupported_endpoint");
  });

  it("lists what the tenant can reach, with context sizes where known", async () => {
    const { apiKey } = await gatewayTenant();
    const res = await call("/v1/models", { key: apiKey });
    expect(res.status).toBe(200);
    expect(res.body.object).toBe("list");
    const byId = new Map(res.body.data.map((m: { id: string }) => [m.id, m]));
    expect(byId.get("gpt-4o-mini")).toMatchObject({
      object: "model",
      owned_by: "openai",
      context_length: 128000,
    });
    expect(byId.get("openai:llama-3.1-8b")).toMatchObject({ context_length: 131072 });
    expect(byId.get("groq:llama-3.1-8b")).toMatchObject({ owned_by: "groq", context_length: 131072 });
    expect(byId.get("claude-sonnet-4-5")).toMatchObject({ owned_by: "anthropic", context_length: 200000 });
    expect(byId.get("deepseek-chat")).toMatchObject({ owned_by: "cloud", context_length: 131072 });
  });
});
