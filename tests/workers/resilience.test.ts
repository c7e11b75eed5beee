import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { chunks, events, gatewayTenant, unique, upstreamSaw } from "./gateway-helpers";
import { BASE, call, callWith } from "./helpers";

const hello = [{ role: "user", content: "hi there" }];
const chat = (apiKey: string, json: unknown) =>
  call("/v1/chat/completions", { method: "POST", key: apiKey, json });

describe("retries and fallbacks", () => {
  it("retries a 429 (honouring retry-after) while nothing has been sent", async () => {
    const { apiKey } = await gatewayTenant();
    for (const base of ["gpt-4o-mini", "claude-sonnet-4-5"]) {
      const model = unique(base, "429x1");
      const res = await chat(apiKey, { model, messages: hello });
      expect(res.status, base).toBe(200);
      expect(res.headers.get("x-relay-attempts")).toBe("2");
      expect(await upstreamSaw(model)).toHaveLength(2);
    }
  });

  it("gives up after RELAY_MAX_RETRIES and keeps the upstream's status and message", async () => {
    const { apiKey } = await gatewayTenant();
    const model = unique("gpt-4o-mini", "500");
    const res = await chat(apiKey, { model, messages: hello });
    expect(res.status).toBe(500);
    expect(res.body.error.message).toBe("The server had an error while processing your request.");
    expect(res.headers.get("x-relay-attempts")).toBe("3");
    expect(res.headers.get("x-relay-upstream-status")).toBe("500");
    expect(await upstreamSaw(model)).toHaveLength(3);
  });

  it("does not retry a client error", async () => {
    const { apiKey } = await gatewayTenant();
    const model = unique("gpt-4o-mini", "400");
    const res = await chat(apiKey, { model, messages: hello });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({
      message: "Invalid value for 'messages'",
      type: "invalid_request_error",
    });
    expect(await upstreamSaw(model)).toHaveLength(1);
  });

  it("falls back through a models array; the first that answers wins and says so", async () => {
    const { apiKey } = await gatewayTenant();
    const broken = unique("gpt-4o-mini", "500");
    const res = await chat(apiKey, {
      model: broken,
      models: ["no-such-model", "claude-sonnet-4-5"],
      messages: hello,
      stream: true,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-relay-provider")).toBe("anthropic");
    expect(res.headers.get("x-relay-model")).toBe("claude-sonnet-4-5");
    expect(res.headers.get("x-relay-attempts")).toBe("4");
    expect(
      chunks(res.text)
        .map((c) => c.choices[0]?.delta?.content ?? "")
        .join(""),
    ).toBe("Hello! You said: hi there");
    // The models array is relay's: it never reaches an upstream.
    expect((await upstreamSaw(broken))[0]?.body.models).toBeUndefined();
  });

  it("uses `models` alone as primary and fallbacks", async () => {
    const { apiKey } = await gatewayTenant();
    const res = await chat(apiKey, {
      models: [unique("claude-sonnet-4-5", "529"), "gpt-4o-mini"],
      messages: hello,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-relay-provider")).toBe("openai");
  });
});

describe("timeouts and limits", () => {
  it("answers 504 in the envelope when the first byte is too slow", async () => {
    const { apiKey } = await gatewayTenant();
    for (const stream of [false, true]) {
      const res = await callWith({ RELAY_FIRST_BYTE_TIMEOUT_SECONDS: "1" }, "/v1/chat/completions", {
        method: "POST",
        key: apiKey,
        json: { model: unique("gpt-4o-mini", "slow2500"), messages: hello, stream },
      });
      expect(res.status, `stream=${stream}`).toBe(504);
      expect(res.body.error).toMatchObject({ type: "timeout_error", code: "upstream_timeout" });
    }
  });

  it("ends a stream that outlives REQUEST_TIMEOUT_SECONDS with an error event", async () => {
    const { apiKey } = await gatewayTenant();
    const res = await callWith({ REQUEST_TIMEOUT_SECONDS: "1" }, "/v1/chat/completions", {
      method: "POST",
      key: apiKey,
      json: { model: unique("gpt-4o-mini", "stall2500"), messages: hello, stream: true },
    });
    expect(res.status).toBe(200);
    const last = events(res.text).at(-1);
    expect(JSON.parse(last?.data ?? "{}").error.type).toBe("timeout_error");
  });

  it("turns a stream cut mid-way into an error event and a clean close, in both formats", async () => {
    const { apiKey } = await gatewayTenant();
    const openai = await chat(apiKey, {
      model: unique("gpt-4o-mini", "drop"),
      messages: hello,
      stream: true,
    });
    expect(openai.status).toBe(200);
    const list = events(openai.text);
    expect(JSON.parse(list[0]?.data ?? "").choices[0].delta.role).toBe("assistant");
    expect(JSON.parse(list.at(-1)?.data ?? "")).toMatchObject({ error: { type: "api_error" } });

    const anthropic = await call("/v1/messages", {
      method: "POST",
      key: apiKey,
      json: { model: unique("claude-sonnet-4-5", "drop"), max_tokens: 10, messages: hello, stream: true },
    });
    const last = events(anthropic.text).at(-1);
    expect(last?.event).toBe("error");
    expect(JSON.parse(last?.data ?? "")).toMatchObject({ type: "error", error: { type: "api_error" } });
  });

  it("survives garbage in an upstream stream", async () => {
    const { apiKey } = await gatewayTenant();
    const translated = await chat(apiKey, {
      model: unique("claude-sonnet-4-5", "garbage"),
      messages: hello,
      stream: true,
    });
    expect(
      chunks(translated.text)
        .map((c) => c.choices[0]?.delta?.content ?? "")
        .join(""),
    ).toBe("Hello! You said: hi there");
    expect(events(translated.text).at(-1)?.data).toBe("[DONE]");
    const passed = await chat(apiKey, {
      model: unique("gpt-4o-mini", "garbage"),
      messages: hello,
      stream: true,
    });
    expect(events(passed.text).at(-1)?.data).toBe("[DONE]");
  });

  it("enforces MAX_UPSTREAM_RESPONSE_BYTES", async () => {
    const { apiKey } = await gatewayTenant();
    const res = await callWith({ MAX_UPSTREAM_RESPONSE_BYTES: "100000" }, "/v1/chat/completions", {
      method: "POST",
      key: apiKey,
      json: { model: unique("gpt-4o-mini", "huge"), messages: hello },
    });
    expect(res.status).toBe(502);
    expect(res.body.error.code).toBe("upstream_response_too_large");
    const streamed = await callWith({ MAX_UPSTREAM_RESPONSE_BYTES: "100000" }, "/v1/chat/completions", {
      method: "POST",
      key: apiKey,
      json: { model: unique("gpt-4o-mini", "huge"), messages: hello, stream: true },
    });
    expect(streamed.text.length).toBeLessThan(200_000);
    expect(JSON.parse(events(streamed.text).at(-1)?.data ?? "").error.message).toContain(
      "MAX_UPSTREAM_RESPONSE_BYTES",
    );
  });

  it("enforces MAX_UPSTREAM_RESPONSE_BYTES on a stream that flows natively beside relay", async () => {
    const { apiKey } = await gatewayTenant();
    const streamed = await callWith({ MAX_UPSTREAM_RESPONSE_BYTES: "100000" }, "/v1/chat/completions", {
      method: "POST",
      key: apiKey,
      json: {
        model: unique("gpt-4o-mini", "huge"),
        messages: hello,
        stream: true,
        stream_options: { include_usage: true },
      },
    });
    expect(streamed.text.length).toBeLessThan(200_000);
    expect(JSON.parse(events(streamed.text).at(-1)?.data ?? "").error.message).toContain(
      "MAX_UPSTREAM_RESPONSE_BYTES",
    );
  });

  // Every way a stream reaches the client — relay's loop, the native pass-through, the Responses
  // API translated from either format — must carry a disconnect through to the upstream.
  for (const [name, path, base, extra, firstHas] of [
    ["the client disconnects", "/v1/chat/completions", "gpt-4o-mini", {}, '"role":"assistant"'],
    [
      "the client of a native stream disconnects",
      "/v1/chat/completions",
      "gpt-4o-mini",
      { stream_options: { include_usage: true } },
      '"role":"assistant"',
    ],
    [
      "a /v1/responses client disconnects (gpt-4o-mini)",
      "/v1/responses",
      "gpt-4o-mini",
      {},
      "response.created",
    ],
    [
      "a /v1/responses client disconnects (claude-sonnet-4-5)",
      "/v1/responses",
      "claude-sonnet-4-5",
      {},
      "response.created",
    ],
  ] as const) {
    it(`aborts the upstream request when ${name}`, async () => {
      const { apiKey } = await gatewayTenant();
      const model = unique(base, "stall3000");
      const input = path === "/v1/responses" ? { input: "hello" } : { messages: hello };
      const self = (exports as unknown as { default: Fetcher }).default;
      const res = await self.fetch(
        new Request(`${BASE}${path}`, {
          method: "POST",
          headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
          body: JSON.stringify({ model, ...input, stream: true, ...extra }),
        }),
      );
      expect(res.status).toBe(200);
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      const first = await reader.read();
      expect(new TextDecoder().decode(first.value)).toContain(firstHas);
      await reader.cancel();
      let closedEarly = false;
      for (let i = 0; i < 40 && !closedEarly; i++) {
        await new Promise((r) => setTimeout(r, 50));
        closedEarly = (await upstreamSaw(model))[0]?.closedEarly ?? false;
      }
      expect(closedEarly).toBe(true);
    });
  }
});

describe("compatibility settings", () => {
  it("applies DEFAULT_MODEL and sampling defaults only where the client set nothing", async () => {
    const { apiKey } = await gatewayTenant();
    const model = unique("llama-3.1-8b");
    const res = await callWith(
      {
        DEFAULT_MODEL: `groq:${model}`,
        DEFAULT_TEMPERATURE: "0.3",
        DEFAULT_TOP_K: "40",
        DEFAULT_MIN_P: "0.05",
      },
      "/v1/chat/completions",
      { method: "POST", key: apiKey, json: { messages: hello, temperature: 0.9 } },
    );
    expect(res.status).toBe(200);
    const [seen] = await upstreamSaw(model);
    expect(seen?.body).toMatchObject({ model, temperature: 0.9, top_k: 40, min_p: 0.05 });

    // OpenAI's own API rejects unknown parameters: only the ones it takes are filled in.
    const gpt = unique("gpt-4o-mini");
    await callWith({ DEFAULT_TOP_K: "40", DEFAULT_TOP_P: "0.8" }, "/v1/chat/completions", {
      method: "POST",
      key: apiKey,
      json: { model: gpt, messages: hello },
    });
    const [seenGpt] = await upstreamSaw(gpt);
    expect(seenGpt?.body.top_p).toBe(0.8);
    expect(seenGpt?.body.top_k).toBeUndefined();
  });

  it("requires a model when there is no DEFAULT_MODEL", async () => {
    const { apiKey } = await gatewayTenant();
    const res = await chat(apiKey, { messages: hello });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: "model_required", param: "model" });
  });

  it("RELAY_UNKNOWN_FIELD_POLICY: pass_through, strip with a warning, reject naming the field", async () => {
    const { apiKey } = await gatewayTenant();
    const passed = unique("gpt-4o-mini");
    await chat(apiKey, { model: passed, messages: hello, vendor_knob: 1 });
    expect((await upstreamSaw(passed))[0]?.body.vendor_knob).toBe(1);

    const stripped = unique("gpt-4o-mini");
    const res = await callWith({ RELAY_UNKNOWN_FIELD_POLICY: "strip" }, "/v1/chat/completions", {
      method: "POST",
      key: apiKey,
      json: { model: stripped, messages: hello, vendor_knob: 1, other: true },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-relay-warning")).toBe("stripped unknown fields: vendor_knob, other");
    expect((await upstreamSaw(stripped))[0]?.body).toEqual({ model: stripped, messages: hello });

    const rejected = await callWith({ RELAY_UNKNOWN_FIELD_POLICY: "reject" }, "/v1/chat/completions", {
      method: "POST",
      key: apiKey,
      json: { model: unique("gpt-4o-mini"), messages: hello, vendor_knob: 1 },
    });
    expect(rejected.status).toBe(400);
    expect(rejected.body.error).toMatchObject({ code: "unknown_field", param: "vendor_knob" });
  });
});
