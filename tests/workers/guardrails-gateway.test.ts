import { exports } from "cloudflare:workers";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { createAgent } from "../../sdk/src/index";
import { chunks, events, gatewayTenant, MOCK, unique, upstreamSaw } from "./gateway-helpers";
import { BASE, bindings, call } from "./helpers";

// Guardrails on the gateway's path: pii-redact before, after and during the call through the
// official SDKs and agent runs, the key's policy and the client's opt-in, and http guardrails
// under each failure policy. The mock upstream echoes the last user text, so what it saw comes
// back in the answer, and it records every request it was sent.

const self = (exports as unknown as { default: Fetcher }).default;
const viaWorker = ((input: RequestInfo | URL, init?: RequestInit) =>
  self.fetch(new Request(input, init))) as typeof fetch;
const admin = { authorization: `Bearer ${bindings.RELAY_ADMIN_TOKEN}` };
const EMAIL = "john@example.com";

/** A tenant with mock credentials and a key under a guardrail policy. */
async function guardedKey(guardrails: Record<string, unknown>) {
  const tenant = await gatewayTenant();
  const res = await call("/v1/keys", {
    method: "POST",
    key: tenant.apiKey,
    json: { name: "guarded", policy: { guardrails } },
  });
  expect(res.status, res.text).toBe(201);
  return { tenant, apiKey: res.body.apiKey as string, keyId: res.body.key.id as string };
}

/** What the upstream was sent for a model (named as the upstream knows it: no route prefix). */
const sentFor = (model: string) => upstreamSaw(model.replace(/^[a-z]+:/, ""));

/** Everything the upstream was sent for one model, as text. */
async function sentUpstream(model: string): Promise<string> {
  const seen = await sentFor(model);
  expect(seen.length).toBeGreaterThan(0);
  return JSON.stringify(seen.map((r) => r.body));
}

/** Execution records are written after the response: wait until at least `n` show up. */
async function executions(tenantId: string, guardrail: string, n: number): Promise<any[]> {
  const q = new URLSearchParams({ tenant: tenantId, guardrail, limit: "500" });
  let rows: any[] = [];
  for (let i = 0; i < 50; i++) {
    const res = await call(`/admin/guardrails/executions?${q}`, { headers: admin });
    expect(res.status).toBe(200);
    rows = res.body.executions;
    if (rows.length >= n) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return rows;
}

const openai = (apiKey: string) =>
  new OpenAI({ apiKey, baseURL: `${BASE}/v1`, fetch: viaWorker, maxRetries: 0 });
const anthropic = (apiKey: string) =>
  new Anthropic({ apiKey, baseURL: BASE, fetch: viaWorker, maxRetries: 0 });

describe("pii-redact on the gateway's path", () => {
  for (const [route, base] of [
    ["an OpenAI-compatible upstream", "groq:llama-3.1-8b"],
    ["Anthropic (translated)", "claude-sonnet-4-5"],
  ] as const) {
    it(`keeps the address from the upstream and gives it back, through the OpenAI SDK (${route})`, async () => {
      const { apiKey, tenant } = await guardedKey({ mandatory: ["pii-redact"] });
      const client = openai(apiKey);

      const streamed = unique(base);
      const stream = await client.chat.completions.create({
        model: streamed,
        messages: [{ role: "user", content: `write to ${EMAIL} today` }],
        stream: true,
      });
      let text = "";
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
      expect(text).toBe(`Hello! You said: write to ${EMAIL} today`);
      const sent = await sentUpstream(streamed);
      expect(sent).not.toContain(EMAIL);
      expect(sent).toContain("write to [EMAIL_1] today");

      const whole = unique(base);
      const completion = await client.chat.completions.create({
        model: whole,
        messages: [{ role: "user", content: `write to ${EMAIL}` }],
      });
      expect(completion.choices[0]?.message.content).toBe(`Hello! You said: write to ${EMAIL}`);
      expect(await sentUpstream(whole)).not.toContain(EMAIL);

      const records = await executions(tenant.tenantId, "pii-redact", 4);
      const modes = records.map((r) => `${r.mode}:${r.action}`);
      expect(modes).toContain("during_call:modify");
      expect(modes).toContain("post_call:modify");
      expect(modes.filter((m) => m === "pre_call:modify")).toHaveLength(2);
      expect(JSON.stringify(records)).not.toContain(EMAIL);
      expect(records.find((r) => r.mode === "pre_call").metadata).toMatchObject({
        categories: ["email"],
      });
    });
  }

  for (const [route, base] of [
    ["Anthropic", "claude-sonnet-4-5"],
    ["an OpenAI-compatible upstream (translated)", "groq:llama-3.1-8b"],
  ] as const) {
    it(`does the same through the Anthropic SDK (${route})`, async () => {
      const { apiKey } = await guardedKey({ mandatory: ["pii-redact"] });
      const client = anthropic(apiKey);

      const streamed = unique(base);
      const stream = client.messages.stream({
        model: streamed,
        max_tokens: 64,
        system: `Answer ${EMAIL} politely`,
        messages: [{ role: "user", content: `my mail is ${EMAIL}` }],
      });
      let text = "";
      stream.on("text", (t) => {
        text += t;
      });
      const final = await stream.finalMessage();
      expect(text).toBe(`Hello! You said: my mail is ${EMAIL}`);
      expect(final.content[0]?.type === "text" && final.content[0].text).toBe(text);
      const sent = await sentUpstream(streamed);
      expect(sent).not.toContain(EMAIL);
      expect(sent).toContain("my mail is [EMAIL_1]");

      const whole = unique(base);
      const message = await client.messages.create({
        model: whole,
        max_tokens: 64,
        messages: [{ role: "user", content: `my mail is ${EMAIL}` }],
      });
      expect(message.content[0]?.type === "text" && message.content[0].text).toBe(
        `Hello! You said: my mail is ${EMAIL}`,
      );
      expect(await sentUpstream(whole)).not.toContain(EMAIL);
    });
  }

  for (const [route, base] of [
    ["OpenAI's Responses API", "gpt-4o-mini"],
    ["Chat Completions (translated)", "groq:llama-3.1-8b"],
    ["Anthropic (translated)", "claude-sonnet-4-5"],
  ] as const) {
    it(`does the same on /v1/responses (${route})`, async () => {
      const { apiKey } = await guardedKey({ mandatory: ["pii-redact"] });
      const client = openai(apiKey);
      const streamed = unique(base);
      const stream = await client.responses.create({
        model: streamed,
        input: `call 415-555-0123 or ${EMAIL}`,
        stream: true,
        store: false,
      });
      let text = "";
      let done = "";
      for await (const ev of stream) {
        if (ev.type === "response.output_text.delta") text += ev.delta;
        if (ev.type === "response.output_text.done") done = ev.text;
      }
      expect(text).toBe(`Hello! You said: call 415-555-0123 or ${EMAIL}`);
      expect(done).toBe(text);
      const sent = await sentUpstream(streamed);
      expect(sent).not.toContain(EMAIL);
      expect(sent).not.toContain("415-555-0123");
      expect(sent).toContain("[PHONE_1] or [EMAIL_1]");

      const whole = unique(base);
      const response = await client.responses.create({ model: whole, input: `hi ${EMAIL}`, store: false });
      expect(response.output_text).toBe(`Hello! You said: hi ${EMAIL}`);
      expect(await sentUpstream(whole)).not.toContain(EMAIL);
    });
  }

  it("redacts the model input and tool results of an agent run, and restores its answer", async () => {
    const { apiKey } = await guardedKey({ mandatory: ["pii-redact"] });
    const model = unique("groq:llama-3.1-8b");
    const agent = createAgent({
      baseUrl: BASE,
      apiKey,
      model,
      tools: {},
      fetch: (input: string, init: RequestInit) => self.fetch(new Request(input, init)),
    });
    const run = agent.run(`please mail ${EMAIL}`);
    const result = await run.result();
    expect(result.output).toBe(`Hello! You said: please mail ${EMAIL}`);
    const sent = await sentUpstream(model);
    expect(sent).not.toContain(EMAIL);
    expect(sent).toContain("please mail [EMAIL_1]");

    const withTools = unique("groq:llama-3.1-8b");
    const toolAgent = createAgent({
      baseUrl: BASE,
      apiKey,
      model: withTools,
      tools: {
        get_weather: {
          description: "Current weather",
          inputSchema: { type: "object", properties: { city: { type: "string" } } },
          handler: async () => ({ sky: "sunny", reporter: EMAIL }),
        },
        get_time: {
          description: "Time",
          inputSchema: { type: "object", properties: { timezone: { type: "string" } } },
          handler: async () => ({ time: "12:00" }),
        },
      } as never,
      fetch: (input: string, init: RequestInit) => self.fetch(new Request(input, init)),
    });
    const toolRun = toolAgent.run("Weather in Paris?");
    expect((await toolRun.result()).output).toBe("It is sunny in Paris.");
    const calls = await sentFor(withTools);
    expect(calls).toHaveLength(2);
    const second = JSON.stringify(calls[1]?.body);
    expect(second).not.toContain(EMAIL);
    expect(second).toContain("[EMAIL_1]");
  });

  it("redacts what a local model reads and restores what it writes, streamed and not", async () => {
    const { apiKey } = await guardedKey({ mandatory: ["pii-redact"] });
    for (const stream of [true, false]) {
      const res = await call("/v1/chat/completions", {
        method: "POST",
        key: apiKey,
        json: { model: "local:tiny", stream, messages: [{ role: "user", content: `echo: ${EMAIL}` }] },
      });
      expect(res.status, res.text).toBe(200);
      expect(res.headers.get("x-relay-provider")).toBe("local");
      const text = stream
        ? chunks(res.text)
            .map((c) => c.choices[0]?.delta?.content ?? "")
            .join("")
        : res.body.choices[0].message.content;
      // The fake server spells out an "@" it was sent; it was sent the placeholder, restored here.
      expect(text).toMatch(new RegExp(`^pong from \\d+ heard ${EMAIL} ?$`));
    }
  });

  it("counts Anthropic tokens on the redacted text, never sending the address", async () => {
    const { apiKey } = await guardedKey({ mandatory: ["pii-redact"] });
    const model = unique("claude-sonnet-4-5");
    const res = await call("/v1/messages/count_tokens", {
      method: "POST",
      key: apiKey,
      json: { model, messages: [{ role: "user", content: `count ${EMAIL}` }] },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body.input_tokens).toBe(42);
    const [seen] = await sentFor(model);
    expect(seen?.path).toBe("/anthropic/v1/messages/count_tokens");
    expect(seen?.body.messages[0].content).toBe("count [EMAIL_1]");
  });

  it("redacts what is embedded, a string or a list of them, through the OpenAI SDK", async () => {
    const { apiKey } = await guardedKey({ mandatory: ["pii-redact"] });
    const client = openai(apiKey);
    const one = unique("groq:text-embedding-3-small");
    const single = await client.embeddings.create({ model: one, input: `mail ${EMAIL}` });
    expect(single.data).toHaveLength(1);
    expect((await sentFor(one))[0]?.body.input).toBe("mail [EMAIL_1]");

    const many = unique("groq:text-embedding-3-small");
    const listed = await client.embeddings.create({ model: many, input: ["plain", `to ${EMAIL}`, EMAIL] });
    expect(listed.data).toHaveLength(3);
    expect((await sentFor(many))[0]?.body.input).toEqual(["plain", "to [EMAIL_1]", "[EMAIL_1]"]);
    expect(await sentUpstream(many)).not.toContain(EMAIL);
  });

  it("runs an optional guardrail only when the body asks, and never forwards the field", async () => {
    const { apiKey } = await guardedKey({ optional: ["pii-redact"] });
    const asked = unique("groq:llama-3.1-8b");
    const res = await call("/v1/chat/completions", {
      method: "POST",
      key: apiKey,
      json: { model: asked, guardrails: ["pii-redact"], messages: [{ role: "user", content: EMAIL }] },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body.choices[0].message.content).toBe(`Hello! You said: ${EMAIL}`);
    const sent = await sentFor(asked);
    expect(sent[0]?.body.messages[0].content).toBe("[EMAIL_1]");
    expect(sent[0]?.body).not.toHaveProperty("guardrails");

    const plain = unique("groq:llama-3.1-8b");
    await call("/v1/chat/completions", {
      method: "POST",
      key: apiKey,
      json: { model: plain, guardrails: [], messages: [{ role: "user", content: EMAIL }] },
    });
    const raw = await sentFor(plain);
    expect(raw[0]?.body.messages[0].content).toBe(EMAIL);
    expect(raw[0]?.body).not.toHaveProperty("guardrails");

    // A streamed chat through the byte pass-through, requested in the body.
    const streamed = unique("groq:llama-3.1-8b");
    const stream = await call("/v1/chat/completions", {
      method: "POST",
      key: apiKey,
      json: {
        model: streamed,
        stream: true,
        guardrails: ["pii-redact"],
        messages: [{ role: "user", content: `a ${EMAIL} b` }],
      },
    });
    expect(stream.status).toBe(200);
    const text = chunks(stream.text)
      .map((c) => c.choices[0]?.delta?.content ?? "")
      .join("");
    expect(text).toBe(`Hello! You said: a ${EMAIL} b`);
    expect(events(stream.text).at(-1)?.data).toBe("[DONE]");
    expect(await sentUpstream(streamed)).not.toContain(EMAIL);
  });

  it("refuses forbidden, unknown and malformed requests, in each route's envelope", async () => {
    const { apiKey } = await guardedKey({ forbidden: ["pii-redact"] });
    const chat = (guardrails: unknown) =>
      call("/v1/chat/completions", {
        method: "POST",
        key: apiKey,
        json: { model: unique("groq:llama-3.1-8b"), guardrails, messages: [{ role: "user", content: "hi" }] },
      });
    const forbidden = await chat(["pii-redact"]);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.code).toBe("guardrail_forbidden");
    const unknown = await chat(["no-such-guardrail"]);
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.code).toBe("invalid_guardrail_request");
    const notList = await chat("pii-redact");
    expect(notList.status).toBe(400);
    expect(notList.body.error.code).toBe("invalid_guardrail_request");

    const messages = await call("/v1/messages", {
      method: "POST",
      key: apiKey,
      json: {
        model: unique("claude-sonnet-4-5"),
        max_tokens: 16,
        guardrails: ["pii-redact"],
        messages: [{ role: "user", content: "hi" }],
      },
    });
    expect(messages.status).toBe(403);
    expect(messages.body).toMatchObject({ type: "error", error: { type: "permission_error" } });

    // Not optional for this key either: forbidden to request.
    const { apiKey: plainKey } = await gatewayTenant();
    const notOptional = await call("/v1/chat/completions", {
      method: "POST",
      key: plainKey,
      json: {
        model: unique("groq:llama-3.1-8b"),
        guardrails: ["pii-redact"],
        messages: [{ role: "user", content: "hi" }],
      },
    });
    expect(notOptional.status).toBe(403);
    expect(notOptional.body.error.code).toBe("guardrail_forbidden");

    const run = await call("/v1/runs", {
      method: "POST",
      key: apiKey,
      json: { model: unique("groq:llama-3.1-8b"), input: "hi", guardrails: ["pii-redact"] },
    });
    expect(run.status).toBe(403);
    expect(run.body.error.code).toBe("guardrail_forbidden");
  });
});

describe("http guardrails on the gateway's path", () => {
  /** A guardrail in the catalog answering with `behaviour`, and a key that may request it. */
  async function httpGuardrail(
    behaviour: string,
    failurePolicy: "fail_closed" | "fail_open" | "dry_run",
    modes: string[] = ["pre_call", "post_call"],
  ) {
    const name = `g-${behaviour}-${crypto.randomUUID().slice(0, 8)}`;
    const created = await call("/admin/guardrails", {
      method: "POST",
      headers: admin,
      json: {
        name,
        kind: "http",
        modes,
        failurePolicy,
        endpointUrl: `${MOCK}/guardrail/${behaviour}`,
        timeoutMs: 200,
        bearerToken: "guard-secret",
      },
    });
    expect(created.status, created.text).toBe(201);
    const key = await guardedKey({ optional: [name] });
    const chat = (content: string, extra: Record<string, unknown> = {}) => {
      const model = unique("groq:llama-3.1-8b");
      return call("/v1/chat/completions", {
        method: "POST",
        key: key.apiKey,
        json: { model, guardrails: [name], messages: [{ role: "user", content }], ...extra },
      }).then((res) => ({ res, model }));
    };
    return { name, key, chat };
  }

  async function guardrailPayloads(name: string): Promise<any[]> {
    const res = await fetch(`${MOCK}/_mock/guardrail-calls`);
    const calls = (await res.json()) as any[];
    return calls.filter((c) => c.payload.guardrail === name);
  }

  it("allows: called before and after with the contract's payload and its token", async () => {
    const { name, key, chat } = await httpGuardrail("allow", "fail_closed");
    const { res } = await chat("hello there");
    expect(res.status, res.text).toBe(200);
    const calls = await guardrailPayloads(name);
    expect(calls.map((c) => c.payload.mode)).toEqual(["pre_call", "post_call"]);
    expect(calls[0].authorization).toBe("Bearer guard-secret");
    expect(calls[0].payload).toMatchObject({
      guardrail: name,
      context: { tenant_id: key.tenant.tenantId, key_id: key.keyId, route: "chat" },
    });
    expect(calls[0].payload.request.messages[0].content).toBe("hello there");
    expect(calls[0].payload.request).not.toHaveProperty("guardrails");
    expect(calls[1].payload.response.choices[0].message.content).toBe("Hello! You said: hello there");
    const records = await executions(key.tenant.tenantId, name, 2);
    expect(records.map((r) => `${r.mode}:${r.action}`).sort()).toEqual(["post_call:allow", "pre_call:allow"]);
  });

  it("blocks under fail_closed and fail_open, and only records under dry_run", async () => {
    for (const policy of ["fail_closed", "fail_open"] as const) {
      const { chat } = await httpGuardrail("block", policy);
      const { res, model } = await chat("hello");
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe("guardrail_blocked");
      expect(res.body.error.message).toContain("policy says no");
      expect(await sentFor(model)).toHaveLength(0);
    }
    const { name, key, chat } = await httpGuardrail("block", "dry_run");
    const { res } = await chat("hello");
    expect(res.status).toBe(200);
    const records = await executions(key.tenant.tenantId, name, 2);
    expect(records.map((r) => r.action)).toEqual(["block", "block"]);
  });

  it("modifies the request and the answer, except under dry_run", async () => {
    for (const policy of ["fail_closed", "fail_open"] as const) {
      const { chat } = await httpGuardrail("modify", policy);
      const { res, model } = await chat("say forbidden-word now");
      expect(res.status).toBe(200);
      const sent = await sentFor(model);
      expect(sent[0]?.body.messages[0].content).toBe("say [removed] now");
      expect(res.body.choices[0].message.content).toBe("Hello! You said: say [removed] now");
    }

    const dry = await httpGuardrail("modify", "dry_run");
    const out = await dry.chat("say forbidden-word now");
    expect(out.res.status).toBe(200);
    expect((await sentFor(out.model))[0]?.body.messages[0].content).toBe("say forbidden-word now");
    expect(out.res.body.choices[0].message.content).toBe("Hello! You said: say forbidden-word now");
  });

  it("allows and warns under every failure policy, recording what it said", async () => {
    for (const behaviour of ["allow", "warn"]) {
      for (const policy of ["fail_closed", "fail_open", "dry_run"] as const) {
        const { name, key, chat } = await httpGuardrail(behaviour, policy);
        const { res } = await chat("hello");
        expect(res.status).toBe(200);
        expect(res.body.choices[0].message.content).toBe("Hello! You said: hello");
        const records = await executions(key.tenant.tenantId, name, 2);
        expect(records.map((r) => r.action)).toEqual([behaviour, behaviour]);
        expect(records.every((r) => r.failurePolicy === policy)).toBe(true);
        if (behaviour === "warn") expect(records[0].reason).toBe("looks odd");
      }
    }
  });

  for (const behaviour of ["slow2000", "down", "malformed"]) {
    it(`fails closed, or records a warning when open, when it is ${behaviour.replace(/\d+/, "")}`, async () => {
      const closed = await httpGuardrail(behaviour, "fail_closed");
      const { res, model } = await closed.chat("hello");
      expect(res.status).toBe(502);
      expect(res.body.error.code).toBe("guardrail_unavailable");
      expect(await sentFor(model)).toHaveLength(0);
      const records = await executions(closed.key.tenant.tenantId, closed.name, 1);
      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({ mode: "pre_call", action: "warn", metadata: { failed: true } });

      for (const policy of ["fail_open", "dry_run"] as const) {
        const open = await httpGuardrail(behaviour, policy);
        const out = await open.chat("hello");
        expect(out.res.status, out.res.text).toBe(200);
        expect(out.res.body.choices[0].message.content).toBe("Hello! You said: hello");
        const warned = await executions(open.key.tenant.tenantId, open.name, 2);
        expect(warned.map((r) => r.action)).toEqual(["warn", "warn"]);
      }
    });
  }

  it("fails a streamed request closed when it checks answers, and runs it before a stream otherwise", async () => {
    const { chat } = await httpGuardrail("allow", "fail_open");
    const { res, model } = await chat("hello", { stream: true });
    expect(res.status).toBe(502);
    expect(res.body.error.code).toBe("guardrail_unavailable");
    expect(await sentFor(model)).toHaveLength(0);

    const pre = await httpGuardrail("modify", "fail_closed", ["pre_call"]);
    const out = await pre.chat("say forbidden-word", { stream: true });
    expect(out.res.status).toBe(200);
    const text = chunks(out.res.text)
      .map((c) => c.choices[0]?.delta?.content ?? "")
      .join("");
    expect(text).toBe("Hello! You said: say [removed]");
  });
});
