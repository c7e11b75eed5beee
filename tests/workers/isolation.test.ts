import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { SseParser } from "../../common/sse";
import { gatewayTenant, MOCK, unique, upstreamSaw } from "./gateway-helpers";
import { BASE, call } from "./helpers";

// Every route that takes an id, called by tenant A with the ids of tenant B's things: each answers
// as if the thing did not exist (404, or an empty list), and B's things are untouched afterwards.

const self = (exports as unknown as { default: Fetcher }).default;
const tools = [
  { kind: "function", name: "get_weather", description: "weather", inputSchema: { type: "object" } },
];

describe("tenant isolation across every route that takes an id", () => {
  let a: Awaited<ReturnType<typeof gatewayTenant>>;
  let b: Awaited<ReturnType<typeof gatewayTenant>>;
  let bSecondKey: { id: string; apiKey: string };
  let bModel: string;
  let run: {
    id: string;
    workflowId: string;
    toolCallId: string;
    reader: ReadableStreamDefaultReader<Uint8Array>;
  };
  let bItemId: string;

  beforeAll(async () => {
    [a, b] = await Promise.all([gatewayTenant(), gatewayTenant()]);
    const created = await call("/v1/keys", { method: "POST", key: b.apiKey, json: { name: "second" } });
    expect(created.status, created.text).toBe(201);
    bSecondKey = { id: created.body.key.id, apiKey: created.body.apiKey };
    const put = await call("/v1/credentials/bprivate", {
      method: "PUT",
      key: b.apiKey,
      json: { provider: "openai_compatible", apiKey: "sk-test-openai", baseUrl: `${MOCK}/openai/v1` },
    });
    expect(put.status, put.text).toBe(201);

    bModel = unique("bprivate:llama-3.1-8b");
    const used = await call("/v1/chat/completions", {
      method: "POST",
      key: b.apiKey,
      json: { model: bModel, messages: [{ role: "user", content: "hello" }] },
    });
    expect(used.status).toBe(200);

    // A Responses item kept for B (translated route: relay keeps it).
    const kept = await call("/v1/responses", {
      method: "POST",
      key: b.apiKey,
      json: { model: unique("groq:llama-3.1-8b"), input: "B's secret plans", store: true },
    });
    expect(kept.status, kept.text).toBe(200);
    bItemId = kept.body.output.find((o: any) => o.type === "message").id;

    // A run of B's, waiting for its tool result.
    const res = await self.fetch(
      new Request(`${BASE}/v1/runs`, {
        method: "POST",
        headers: { authorization: `Bearer ${b.apiKey}`, "content-type": "application/json" },
        body: JSON.stringify({ model: unique("groq:llama-3.1-8b"), input: "Weather?", tools }),
      }),
    );
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const parser = new SseParser();
    const decoder = new TextDecoder();
    let toolCallId = "";
    while (!toolCallId) {
      const { value, done } = await reader.read();
      if (done) throw new Error("run ended before its tool call");
      for (const ev of parser.push(decoder.decode(value, { stream: true }))) {
        const event = JSON.parse(ev.data);
        if (event.type === "tool_call") toolCallId = event.id;
      }
    }
    run = {
      id: res.headers.get("x-run-id") as string,
      workflowId: res.headers.get("x-workflow-id") as string,
      toolCallId,
      reader,
    };
  });

  it("keys: A cannot revoke B's key", async () => {
    const del = await call(`/v1/keys/${bSecondKey.id}`, { method: "DELETE", key: a.apiKey });
    expect(del.status).toBe(404);
    const listed = await call("/v1/keys", { key: a.apiKey });
    expect(JSON.stringify(listed.body)).not.toContain(bSecondKey.id);
    expect((await call("/v1/keys", { key: bSecondKey.apiKey })).status).toBe(200);
  });

  it("credentials: A cannot delete, list or route through B's credential", async () => {
    const del = await call("/v1/credentials/bprivate", { method: "DELETE", key: a.apiKey });
    expect(del.status).toBe(404);
    expect(JSON.stringify((await call("/v1/credentials", { key: a.apiKey })).body)).not.toContain("bprivate");
    const model = unique("bprivate:llama-3.1-8b");
    const routed = await call("/v1/chat/completions", {
      method: "POST",
      key: a.apiKey,
      json: { model, messages: [{ role: "user", content: "hi" }] },
    });
    expect(routed.status).toBeGreaterThanOrEqual(400);
    expect(routed.status).toBeLessThan(500);
    expect(await upstreamSaw(model.slice("bprivate:".length))).toEqual([]);
    const mine = await call("/v1/credentials", { key: b.apiKey });
    expect(JSON.stringify(mine.body)).toContain("bprivate");
  });

  it("runs, events, tool results, cancel and workflows: 404 for A", async () => {
    const paths: [string, RequestInit & { json?: unknown }][] = [
      [`/v1/runs/${run.id}`, {}],
      [`/v1/runs/${run.id}/events`, {}],
      [`/v1/runs/${run.id}/events`, { headers: { accept: "text/event-stream" } }],
      [
        `/v1/runs/${run.id}/tool-results/${run.toolCallId}`,
        { method: "POST", json: { output: "A's forgery" } },
      ],
      [`/v1/runs/${run.id}/cancel`, { method: "POST" }],
      [`/v1/workflows/${run.workflowId}`, {}],
    ];
    for (const [path, init] of paths) {
      const res = await call(path, { ...init, key: a.apiKey });
      expect(res.status, `${init.method ?? "GET"} ${path}: ${res.text}`).toBe(404);
      expect(res.body.error.type).toBe("not_found_error");
    }
    const list = await call("/v1/runs", { key: a.apiKey });
    expect(JSON.stringify(list.body)).not.toContain(run.id);
  });

  it("B's run was neither answered nor canceled by A, and completes with B's result", async () => {
    const posted = await call(`/v1/runs/${run.id}/tool-results/${run.toolCallId}`, {
      method: "POST",
      key: b.apiKey,
      json: { output: "sunny" },
    });
    expect(posted.status, posted.text).toBe(200);
    const parser = new SseParser();
    const decoder = new TextDecoder();
    const seen: any[] = [];
    for (;;) {
      const { value, done } = await run.reader.read();
      if (done) break;
      for (const ev of parser.push(decoder.decode(value, { stream: true }))) seen.push(JSON.parse(ev.data));
    }
    expect(seen.find((e) => e.type === "tool_result" && e.id === run.toolCallId)).toMatchObject({
      output: "sunny",
    });
    expect(seen.at(-1)).toMatchObject({ type: "done" });
  });

  it("usage and audit: nothing of B's in A's", async () => {
    for (const groupBy of ["day", "model", "key", "provider"]) {
      const usage = await call(`/v1/usage?group_by=${groupBy}`, { key: a.apiKey });
      expect(usage.status).toBe(200);
      const text = JSON.stringify(usage.body);
      expect(text).not.toContain(bModel);
      expect(text).not.toContain(b.keyId);
      expect(text).not.toContain(bSecondKey.id);
    }
    const audit = await call("/v1/audit", { key: a.apiKey });
    expect(audit.status).toBe(200);
    const text = JSON.stringify(audit.body);
    for (const id of [b.tenantId, b.keyId, bSecondKey.id, run.id]) expect(text).not.toContain(id);
  });

  it("Responses items: A's reference to B's item is not resolved", async () => {
    const model = unique("groq:llama-3.1-8b");
    const res = await call("/v1/responses", {
      method: "POST",
      key: a.apiKey,
      json: {
        model,
        input: [
          { type: "item_reference", id: bItemId },
          { role: "user", content: "go on" },
        ],
      },
    });
    expect(res.status).toBeLessThan(500);
    const [sent] = await upstreamSaw(model.slice("groq:".length));
    expect(JSON.stringify(sent?.body ?? {})).not.toContain("assistant");
  });

  it("LiveKit rooms: the same room name is another room for another tenant", async () => {
    const token = (key: string) =>
      call("/v1/livekit/token", { method: "POST", key, json: { room: "standup", identity: "me" } });
    const [ta, tb] = await Promise.all([token(a.apiKey), token(b.apiKey)]);
    expect(ta.status, ta.text).toBe(200);
    expect(ta.body.livekitRoom).not.toBe(tb.body.livekitRoom);
  });
});
