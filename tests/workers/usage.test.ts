import { describe, expect, it } from "vitest";
import { type Env, loadConfig } from "../../workers/config/env";
import { drainOutbox } from "../../workers/outbox/outbox";
import { outboxKeys } from "../../workers/outbox/queue";
import { redisFrom } from "../../workers/redis/client";
import { gatewayTenant, unique } from "./gateway-helpers";
import { bindings, call } from "./helpers";

const hello = [{ role: "user", content: "hi there" }];

async function usageOf(apiKey: string, query = ""): Promise<any> {
  const res = await call(`/v1/usage${query}`, { key: apiKey });
  expect(res.status).toBe(200);
  return res.body;
}

/** Usage is recorded after the response; wait until `n` requests show up. */
async function waitForRequests(apiKey: string, n: number): Promise<any> {
  let body: any;
  for (let i = 0; i < 50; i++) {
    body = await usageOf(apiKey);
    if (body.totals.requests >= n) return body;
    await new Promise((r) => setTimeout(r, 100));
  }
  return body;
}

describe("usage and cost", () => {
  it("records every request, streamed or not, failed or not, with tokens and cost", async () => {
    const { apiKey, keyId } = await gatewayTenant();
    const post = (json: unknown) => call("/v1/chat/completions", { method: "POST", key: apiKey, json });
    expect((await post({ model: unique("gpt-4o-mini"), messages: hello })).status).toBe(200);
    expect((await post({ model: unique("gpt-4o-mini"), messages: hello, stream: true })).status).toBe(200);
    expect((await post({ model: unique("claude-sonnet-4-5"), messages: hello, stream: true })).status).toBe(
      200,
    );
    expect((await post({ model: unique("gpt-4o-mini", "400"), messages: hello })).status).toBe(400);

    const body = await waitForRequests(apiKey, 4);
    // gpt-4o-mini: 8 uncached × 0.15 + 3 cached × 0.075 + 7 × 0.6 per million, twice;
    // claude-sonnet-4-5: 8 × 3 + 3 × 0.3 + 7 × 15 per million.
    const expectedCost = (2 * (8 * 0.15 + 3 * 0.075 + 7 * 0.6) + (8 * 3 + 3 * 0.3 + 7 * 15)) / 1e6;
    expect(body.totals).toMatchObject({
      requests: 4,
      errors: 1,
      input_tokens: 33,
      output_tokens: 21,
      cached_tokens: 9,
    });
    expect(body.totals.cost_usd).toBeCloseTo(expectedCost, 12);
    expect(body.group_by).toBe("day");
    expect(body.data).toHaveLength(1);
    expect(body.data[0].day).toBe(new Date().toISOString().slice(0, 10));

    const byProvider = await usageOf(apiKey, "?group_by=provider");
    expect(byProvider.data.map((r: any) => [r.provider, r.requests])).toEqual([
      ["anthropic", 1],
      ["openai", 3],
    ]);
    const byKey = await usageOf(apiKey, "?group_by=key");
    expect(byKey.data).toEqual([expect.objectContaining({ key: keyId, requests: 4 })]);
    const byModel = await usageOf(apiKey, "?group_by=model");
    expect(byModel.data).toHaveLength(4);
    // Latency of the requests that succeeded: what the console's "slowest models" ranks by.
    for (const row of byModel.data) {
      if (row.errors) expect(row).toMatchObject({ latency_ms_avg: null, latency_ms_p95: null });
      else {
        expect(row.latency_ms_avg).toBeGreaterThanOrEqual(0);
        expect(row.latency_ms_p95).toBeGreaterThanOrEqual(row.latency_ms_avg);
      }
    }
  });

  it("reports a null cost for models without a price, and a null provider for what could not be routed", async () => {
    const { apiKey } = await gatewayTenant();
    const model = unique("llama-3.1-8b");
    const post = (json: unknown) => call("/v1/chat/completions", { method: "POST", key: apiKey, json });
    expect((await post({ model: `groq:${model}`, messages: hello })).status).toBe(200);
    expect((await post({ model: "no-such-family-model", messages: hello })).status).toBe(400);
    await waitForRequests(apiKey, 2);
    const byModel = await usageOf(apiKey, "?group_by=model");
    expect(byModel.data.find((r: any) => r.model === model)).toMatchObject({
      requests: 1,
      cost_usd: null,
      unpriced_requests: 1,
    });
    expect(byModel.totals.cost_usd).toBeNull();
    const byProvider = await usageOf(apiKey, "?group_by=provider");
    expect(byProvider.data.map((r: any) => r.provider).sort()).toEqual(["groq", null]);
  });

  it("lets the operator price any model through RELAY_MODEL_PRICES", async () => {
    const { costOf } = await import("../../workers/usage/prices");
    const config = loadConfig({
      RELAY_MODEL_PRICES: JSON.stringify({ "llama-3.1": { input: 1, output: 2 } }),
    } as Env);
    expect(costOf(config, "llama-3.1-8b", { input: 1_000_000, output: 1_000_000, cached: 0 })).toBe(3);
    expect(costOf(config, "unpriced-model", { input: 10, output: 10, cached: 0 })).toBeNull();
    expect(() => loadConfig({ RELAY_MODEL_PRICES: "{bad" } as Env)).toThrow(/RELAY_MODEL_PRICES/);
  });

  it("validates the query and isolates tenants", async () => {
    const a = await gatewayTenant();
    const b = await gatewayTenant();
    await call("/v1/chat/completions", {
      method: "POST",
      key: a.apiKey,
      json: { model: unique("gpt-4o-mini"), messages: hello },
    });
    await waitForRequests(a.apiKey, 1);
    expect((await usageOf(b.apiKey)).totals.requests).toBe(0);
    expect((await call("/v1/usage?group_by=color", { key: a.apiKey })).status).toBe(400);
    expect((await call("/v1/usage?from=2026-02-01&to=2026-01-01", { key: a.apiKey })).status).toBe(400);
    const ranged = await usageOf(a.apiKey, "?from=2000-01-01&to=2000-01-02");
    expect(ranged.totals.requests).toBe(0);
  });

  it("loses nothing while Postgres is down: queued events wait and land later", async () => {
    const { apiKey } = await gatewayTenant();
    await call("/v1/chat/completions", {
      method: "POST",
      key: apiKey,
      json: { model: unique("gpt-4o-mini"), messages: hello },
    });
    const config = loadConfig({ ...bindings } as Env);
    const redis = redisFrom(config);
    const USAGE_QUEUE = outboxKeys(config).queue;
    if (!redis) throw new Error("tests run with Redis");
    // Wait until the event is queued (it is pushed after the response).
    for (let i = 0; i < 50 && (await redis.llen(USAGE_QUEUE)) === 0; i++)
      await new Promise((r) => setTimeout(r, 50));
    const queued = await redis.llen(USAGE_QUEUE);
    expect(queued).toBeGreaterThan(0);

    // The same database, unreachable: its proxy is gone.
    const down = loadConfig({ ...bindings, RELAY_DB_WS_PROXY: "ws://127.0.0.1:9/v2" } as Env);
    await expect(drainOutbox(down)).rejects.toThrow();
    expect(await redis.llen(USAGE_QUEUE)).toBeGreaterThanOrEqual(queued);

    const body = await waitForRequests(apiKey, 1);
    expect(body.totals.requests).toBe(1);
  });
});
