import { Redis } from "@upstash/redis/cloudflare";
import { describe, expect, it } from "vitest";
import { type Env, loadConfig } from "../../workers/config/env";
import { RequestDb } from "../../workers/db/client";
import type { GatewayContext } from "../../workers/gateway/context";
import { admit } from "../../workers/limits/admission";
import { limitKeys, periodsAt } from "../../workers/limits/keys";
import { effectiveLimits, type KeyPolicy } from "../../workers/limits/policy";
import { estimateInputTokens } from "../../workers/usage/estimate";
import { chunks, gatewayTenant, unique } from "./gateway-helpers";
import { bindings, call, callWith } from "./helpers";

const redis = new Redis({
  url: bindings.UPSTASH_REDIS_REST_URL as string,
  token: bindings.UPSTASH_REDIS_REST_TOKEN as string,
  enableTelemetry: false,
});
const admin = { authorization: `Bearer ${bindings.RELAY_ADMIN_TOKEN}` };
const hello = [{ role: "user", content: "hi" }];

// $0.001 per input token, $0.049 per output token: `usage10x10` costs exactly $0.50.
const PRICED = { RELAY_MODEL_PRICES: JSON.stringify({ pricey: { input: 1000, output: 49_000 } }) };

/** A tenant with mock credentials and a second key under `policy`. */
async function limitedKey(policy: KeyPolicy) {
  const tenant = await gatewayTenant();
  const res = await call("/v1/keys", {
    method: "POST",
    key: tenant.apiKey,
    json: { name: "limited", policy },
  });
  expect(res.status).toBe(201);
  return { tenant, apiKey: res.body.apiKey as string, keyId: res.body.key.id as string };
}

const chat = (key: string, json: Record<string, unknown>, overrides?: Record<string, string>) => {
  const init = { method: "POST", key, json: { messages: hello, ...json } };
  return overrides ? callWith(overrides, "/v1/chat/completions", init) : call("/v1/chat/completions", init);
};

async function keyStatus(ownerKey: string, keyId: string): Promise<any> {
  const res = await call("/v1/keys", { key: ownerKey });
  expect(res.status).toBe(200);
  return res.body.keys.find((k: { id: string }) => k.id === keyId);
}

/** Settlement runs after the response; wait for what it leads to. */
async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  let value = await read();
  while (!ok(value) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 100));
    value = await read();
  }
  return value;
}

describe("key policies and tenant ceilings", () => {
  it("sets a policy at creation, merges PATCHes field by field, and audits every change", async () => {
    const { tenant, keyId } = await limitedKey({ rpm: 60, allowedModels: ["claude-*"] });
    const patch = (json: unknown, key = tenant.apiKey, id = keyId) =>
      call(`/v1/keys/${id}`, { method: "PATCH", key, json });

    const changed = await patch({ policy: { tpm: 5000, allowedModels: null, dailyBudgetUsd: 1 } });
    expect(changed.status).toBe(200);
    expect(changed.body.key.policy).toEqual({ rpm: 60, tpm: 5000, dailyBudgetUsd: 1 });
    expect((await patch({ name: "renamed" })).body.key).toMatchObject({
      name: "renamed",
      policy: { rpm: 60 },
    });

    expect((await patch({ policy: { rpm: 0 } })).status).toBe(400);
    expect((await patch({ policy: { rpms: 1 } })).status).toBe(400);
    expect((await patch({ policy: { expiresAt: "tomorrow" } })).status).toBe(400);
    expect((await patch({})).status).toBe(400);
    const other = await gatewayTenant();
    expect((await patch({ policy: { rpm: 1 } }, other.apiKey)).status).toBe(404);
    expect((await patch({ policy: { rpm: 1 } }, tenant.apiKey, crypto.randomUUID())).status).toBe(404);

    const listed = await keyStatus(tenant.apiKey, keyId);
    expect(listed.policy).toEqual({ rpm: 60, tpm: 5000, dailyBudgetUsd: 1 });
    expect(listed.limits.requestsPerMinute).toMatchObject({ limit: 60, used: 0, remaining: 60 });
    expect(listed.limits.tokensPerMinute).toMatchObject({ limit: 5000, used: 0 });
    expect(listed.limits.dailyBudget).toMatchObject({ limitUsd: 1, spentUsd: 0, remainingUsd: 1 });
    expect((await keyStatus(tenant.apiKey, tenant.keyId)).limits).toBeNull();

    const audit = await call("/v1/audit?action=api_key.policy_updated", { key: tenant.apiKey });
    expect(audit.body.events).toHaveLength(1);
    expect(audit.body.events[0].metadata).toMatchObject({
      changes: { tpm: 5000, allowedModels: null, dailyBudgetUsd: 1 },
      before: { rpm: 60, allowedModels: ["claude-*"] },
      after: { rpm: 60, tpm: 5000, dailyBudgetUsd: 1 },
    });
  });

  it("lets a limited key neither mint, change nor revoke other keys", async () => {
    const { tenant, apiKey, keyId } = await limitedKey({ rpm: 5 });
    const mint = await call("/v1/keys", { method: "POST", key: apiKey, json: { name: "escape" } });
    expect(mint.status).toBe(403);
    expect(mint.body.error.code).toBe("key_management_forbidden");
    const lift = await call(`/v1/keys/${keyId}`, {
      method: "PATCH",
      key: apiKey,
      json: { policy: { rpm: null } },
    });
    expect(lift.status).toBe(403);
    expect((await call(`/v1/keys/${tenant.keyId}`, { method: "DELETE", key: apiKey })).status).toBe(403);
    expect((await call("/v1/keys", { key: apiKey })).status).toBe(200);
    expect((await call(`/v1/keys/${keyId}?force=true`, { method: "DELETE", key: apiKey })).status).toBe(200);
  });

  it("lets the operator set ceilings: the lower limit wins, for the bootstrap key too", async () => {
    const { tenant, apiKey } = await limitedKey({ rpm: 10 });
    const set = await call(`/admin/tenants/${tenant.tenantId}`, {
      method: "PATCH",
      headers: admin,
      json: { limits: { rpm: 2, maxConcurrent: 4 } },
    });
    expect(set.status).toBe(200);
    expect(set.body.tenant.limits).toEqual({ rpm: 2, maxConcurrent: 4 });
    const listed = await call("/admin/tenants", { headers: admin });
    expect(listed.body.tenants.find((t: { id: string }) => t.id === tenant.tenantId).limits).toEqual({
      rpm: 2,
      maxConcurrent: 4,
    });

    for (const key of [apiKey, tenant.apiKey]) {
      const model = unique("groq:llama");
      expect((await chat(key, { model })).headers.get("x-ratelimit-limit-requests")).toBe("2");
      expect((await chat(key, { model })).status).toBe(200);
      const refused = await chat(key, { model });
      expect(refused.status).toBe(429);
      expect(refused.body.error.code).toBe("rate_limit_exceeded");
    }
    const keys = await call("/v1/keys", { key: tenant.apiKey });
    expect(keys.body.tenantLimits).toEqual({ rpm: 2, maxConcurrent: 4 });

    const audit = await call("/v1/audit?action=tenant.limits_updated", { key: tenant.apiKey });
    expect(audit.body.events[0]).toMatchObject({ actor: "admin", metadata: { after: { rpm: 2 } } });
    const unknown = await call(`/admin/tenants/${crypto.randomUUID()}`, {
      method: "PATCH",
      headers: admin,
      json: { limits: { rpm: 1 } },
    });
    expect(unknown.status).toBe(404);
    const bad = await call(`/admin/tenants/${tenant.tenantId}`, {
      method: "PATCH",
      headers: admin,
      json: { limits: { rpm: -1 } },
    });
    expect(bad.status).toBe(400);
  });
});

describe("rate limits", () => {
  it("admits rpm requests a minute, says where it stands, then 429 with retry-after", async () => {
    const { tenant, apiKey, keyId } = await limitedKey({ rpm: 3 });
    const model = unique("groq:llama");
    const remaining: (string | null)[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await chat(apiKey, { model });
      expect(res.status).toBe(200);
      expect(res.headers.get("x-ratelimit-limit-requests")).toBe("3");
      expect(res.headers.get("x-ratelimit-reset-requests")).toMatch(/^(\d+ms|(\d+m)?\d+(\.\d+)?s)$/);
      remaining.push(res.headers.get("x-ratelimit-remaining-requests"));
    }
    expect(remaining).toEqual(["2", "1", "0"]);
    const refused = await chat(apiKey, { model });
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({ code: "rate_limit_exceeded", type: "rate_limit_error" });
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(58);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(Number(refused.headers.get("retry-after-ms"))).toBeGreaterThan(57_000);
    expect(refused.headers.get("x-ratelimit-remaining-requests")).toBe("0");
    // Refused requests are not counted, and the key's status shows the window.
    const status = (await keyStatus(tenant.apiKey, keyId)).limits.requestsPerMinute;
    expect(status).toMatchObject({ limit: 3, used: 3, remaining: 0 });
    expect(Date.parse(status.resetsAt)).toBeGreaterThan(Date.now() + 50_000);
    // A key without a policy is not limited and carries no rate-limit headers.
    const free = await chat(tenant.apiKey, { model });
    expect(free.status).toBe(200);
    expect(free.headers.get("x-ratelimit-limit-requests")).toBeNull();
  });

  it("puts the headers on upstream errors, and Anthropic's on /v1/messages", async () => {
    const { apiKey } = await limitedKey({ rpm: 10, tpm: 100_000 });
    const failed = await chat(apiKey, { model: unique("groq:llama", "400") });
    expect(failed.status).toBe(400);
    expect(failed.headers.get("x-ratelimit-remaining-requests")).toBe("9");
    const messages = await call("/v1/messages", {
      method: "POST",
      key: apiKey,
      json: { model: unique("claude-sonnet-4-5"), max_tokens: 50, messages: hello },
    });
    expect(messages.status).toBe(200);
    expect(messages.headers.get("anthropic-ratelimit-requests-limit")).toBe("10");
    expect(messages.headers.get("anthropic-ratelimit-requests-remaining")).toBe("8");
    expect(messages.headers.get("anthropic-ratelimit-tokens-limit")).toBe("100000");
    const reset = Date.parse(messages.headers.get("anthropic-ratelimit-tokens-reset") ?? "");
    expect(reset).toBeGreaterThan(Date.now() + 55_000);
    expect(messages.headers.get("x-ratelimit-limit-tokens")).toBe("100000");
  });

  it("reserves input + max_tokens, then settles the tokens the upstream reports", async () => {
    const { tenant, apiKey, keyId } = await limitedKey({ tpm: 1000 });
    const body = { model: unique("groq:llama", "usage30x20"), max_tokens: 100, messages: hello };
    const reserved = estimateInputTokens(body) + 100;
    const first = await chat(apiKey, body);
    expect(first.status).toBe(200);
    expect(first.headers.get("x-ratelimit-limit-tokens")).toBe("1000");
    expect(first.headers.get("x-ratelimit-remaining-tokens")).toBe(String(1000 - reserved));
    // The next admission carries the first request's settlement: its reservation became the 50
    // tokens used before this one was counted.
    const second = await chat(apiKey, body);
    expect(second.headers.get("x-ratelimit-remaining-tokens")).toBe(String(1000 - 50 - reserved));
    // With no request after it, a settlement goes on its own.
    const used = await until(
      async () => (await keyStatus(tenant.apiKey, keyId)).limits.tokensPerMinute.used,
      (v) => v === 100,
    );
    expect(used).toBe(100);
  });

  it("never cuts an admitted stream: it is charged at its end and the next request is refused", async () => {
    const { tenant, apiKey, keyId } = await limitedKey({ tpm: 300 });
    const model = unique("groq:llama", "usage10x1000");
    const stream = await chat(apiKey, { model, max_tokens: 20, stream: true });
    expect(stream.status).toBe(200);
    const events = chunks(stream.text);
    expect(events.map((c) => c.choices[0]?.delta?.content ?? "").join("")).toBe("Hello! You said: hi");
    expect(events.at(-1).choices[0].finish_reason).toBe("stop");
    expect(stream.text.trimEnd().endsWith("data: [DONE]")).toBe(true);

    await until(
      async () => (await keyStatus(tenant.apiKey, keyId)).limits.tokensPerMinute.used,
      (v) => v === 1010,
    );
    const next = await chat(apiKey, { model: unique("groq:llama"), max_tokens: 5 });
    expect(next.status).toBe(429);
    expect(next.body.error.code).toBe("token_rate_limit_exceeded");
    expect(next.headers.get("x-ratelimit-remaining-tokens")).toBe("0");
    expect(Number(next.headers.get("retry-after"))).toBeGreaterThan(50);
  });

  it("limits requests in flight and frees the slot when a stream ends", async () => {
    const { apiKey } = await limitedKey({ maxConcurrent: 1 });
    const slow = chat(apiKey, { model: unique("groq:llama", "slow1500"), stream: true });
    await new Promise((r) => setTimeout(r, 400));
    const refused = await chat(apiKey, { model: unique("groq:llama") });
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe("concurrency_limit_exceeded");
    expect(refused.headers.get("retry-after")).toBe("1");
    expect((await slow).status).toBe(200);
    const after = await until(
      () => chat(apiKey, { model: unique("groq:llama") }),
      (r) => r.status === 200,
    );
    expect(after.status).toBe(200);
  });
});

describe("budgets", () => {
  it("refuses with 402 once the daily budget is spent, and shows it in /v1/keys and /v1/usage", async () => {
    const { tenant, apiKey, keyId } = await limitedKey({ dailyBudgetUsd: 1 });
    const body = { model: unique("groq:pricey", "usage10x10"), max_tokens: 10 };
    expect((await chat(apiKey, body, PRICED)).status).toBe(200);
    expect((await chat(apiKey, body, PRICED)).status).toBe(200);
    const refused = await chat(apiKey, body, PRICED);
    expect(refused.status).toBe(402);
    expect(refused.body.error).toMatchObject({ code: "budget_exceeded", type: "billing_error" });
    expect(refused.body.error.message).toContain("daily budget of $1");

    const status = (await keyStatus(tenant.apiKey, keyId)).limits.dailyBudget;
    expect(status.spentUsd).toBeCloseTo(1, 6);
    expect(status.remainingUsd).toBeCloseTo(0, 6);
    expect(status.resetsAt).toBe(new Date(periodsAt(Date.now()).dayEnd).toISOString());
    const usage = await call("/v1/usage", { key: tenant.apiKey });
    expect(usage.body.budgets).toEqual([
      expect.objectContaining({ key_id: keyId, key_name: "limited", period: "day", limit_usd: 1 }),
    ]);
    expect(usage.body.budgets[0].spent_usd).toBeCloseTo(1, 6);
    expect(usage.body.budgets[0].remaining_usd).toBeCloseTo(0, 6);
  });

  it("refuses a request whose estimated cost the monthly budget cannot cover", async () => {
    const { apiKey } = await limitedKey({ monthlyBudgetUsd: 0.7 });
    const body = { model: unique("groq:pricey", "usage10x10"), max_tokens: 10 };
    expect((await chat(apiKey, body, PRICED)).status).toBe(200);
    // $0.50 spent; this one could cost up to ~$0.494.
    const refused = await chat(apiKey, body, PRICED);
    expect(refused.status).toBe(402);
    expect(refused.body.error.message).toMatch(
      /monthly budget of \$0\.7 .*\$0\.5 is spent.*could cost up to/,
    );
    // A smaller max_tokens fits.
    expect((await chat(apiKey, { ...body, max_tokens: 2 }, PRICED)).status).toBe(200);
  });

  it("rebuilds spend from Postgres when Redis has lost the counters", async () => {
    const { apiKey, keyId } = await limitedKey({ dailyBudgetUsd: 1, monthlyBudgetUsd: 100 });
    const body = { model: unique("groq:pricey", "usage10x10"), max_tokens: 10 };
    expect((await chat(apiKey, body, PRICED)).status).toBe(200);
    expect((await chat(apiKey, body, PRICED)).status).toBe(200);
    const keys = limitKeys(keyId, periodsAt(Date.now()));
    expect(Number(await redis.get(keys.day))).toBeCloseTo(1e6, 0);

    // What a restart, an eviction or a flush would do to this key.
    await redis.del(keys.day, keys.month, keys.inFlight);
    const refused = await chat(apiKey, body, PRICED);
    expect(refused.status).toBe(402);
    expect(Number(await redis.get(keys.day))).toBeCloseTo(1e6, 0);
    expect(Number(await redis.get(keys.month))).toBeCloseTo(1e6, 0);
  });

  it("releases what a dead request reserved when its lease expires", async () => {
    const { tenant, apiKey, keyId } = await limitedKey({ maxConcurrent: 1, dailyBudgetUsd: 0.6 });
    const env = { ...bindings, ...PRICED, REQUEST_TIMEOUT_SECONDS: "1" } as Env;
    const config = loadConfig(env);
    const db = new RequestDb(config);
    const policy = { maxConcurrent: 1, dailyBudgetUsd: 0.6 };
    // A request admitted by an isolate that then died: it never settles.
    const ctx: GatewayContext = {
      config,
      env,
      caller: { keyId, tenantId: tenant.tenantId, policy, limits: effectiveLimits(policy, {}) },
      db,
      requestId: "dead",
      signal: undefined,
      waitUntil: () => {},
    };
    const model = unique("groq:pricey", "usage10x10");
    try {
      const held = await admit(ctx, {
        endpoint: "chat",
        body: { model, max_tokens: 10 },
        candidates: [model],
      });
      expect(held?.headers).toEqual({});
    } finally {
      await db.close();
    }
    const started = Date.now();
    const refused = await chat(apiKey, { model, max_tokens: 10 }, PRICED);
    expect(refused.status).toBe(402);
    expect(refused.body.error.message).toContain("reserved by requests in flight");
    expect((await keyStatus(tenant.apiKey, keyId)).limits.concurrent).toMatchObject({ inFlight: 1 });

    // The lease lasts the request's deadline (1 s here) plus 10 s.
    const admitted = await until(
      () => chat(apiKey, { model, max_tokens: 10 }, PRICED),
      (r) => r.status === 200,
      15_000,
    );
    expect(admitted.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThan(8_000);
  }, 30_000);
});

describe("allow-lists and expiry", () => {
  it("allows only models matching every allow-list, fallbacks included", async () => {
    const { tenant, apiKey } = await limitedKey({ allowedModels: ["groq:*", "claude-*"] });
    expect((await chat(apiKey, { model: unique("groq:llama") })).status).toBe(200);
    expect((await chat(apiKey, { model: unique("claude-sonnet-4-5") })).status).toBe(200);
    const refused = await chat(apiKey, { model: unique("gpt-4o-mini") });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({ code: "model_not_allowed", type: "permission_error" });
    const viaFallback = await chat(apiKey, { model: unique("groq:llama"), models: [unique("gpt-4o")] });
    expect(viaFallback.status).toBe(403);
    // `*` spans any characters but the rest of a pattern is literal.
    expect((await chat(apiKey, { model: "groqx:llama" })).status).toBe(403);

    await call(`/admin/tenants/${tenant.tenantId}`, {
      method: "PATCH",
      headers: admin,
      json: { limits: { allowedModels: ["claude-*"] } },
    });
    // The isolate that handled the change dropped its cached keys; the tenant's list applies too.
    expect((await chat(apiKey, { model: unique("groq:llama") })).status).toBe(403);
    expect((await chat(apiKey, { model: unique("claude-sonnet-4-5") })).status).toBe(200);
    const models = await call("/v1/models", { key: apiKey });
    expect(
      models.body.data.map((m: { id: string }) => m.id).every((id: string) => id.startsWith("claude-")),
    ).toBe(true);
  });

  it("refuses an expired key with 401 key_expired, the tenant's earlier expiry winning", async () => {
    const past = new Date(Date.now() - 1000).toISOString();
    const { apiKey } = await limitedKey({ expiresAt: past });
    const expired = await chat(apiKey, { model: unique("groq:llama") });
    expect(expired.status).toBe(401);
    expect(expired.body.error.code).toBe("key_expired");
    expect((await call("/v1/keys", { key: apiKey })).body.error.code).toBe("key_expired");

    const future = new Date(Date.now() + 86_400_000).toISOString();
    const later = await limitedKey({ expiresAt: future });
    expect((await chat(later.apiKey, { model: unique("groq:llama") })).status).toBe(200);
    await call(`/admin/tenants/${later.tenant.tenantId}`, {
      method: "PATCH",
      headers: admin,
      json: { limits: { expiresAt: past } },
    });
    expect((await chat(later.apiKey, { model: unique("groq:llama") })).body.error.code).toBe("key_expired");
    expect((await call("/v1/keys", { key: later.tenant.apiKey })).body.error.code).toBe("key_expired");
  });
});

describe("failed authentication", () => {
  const address = () => `10.${[0, 0, 0].map(() => Math.floor(Math.random() * 250)).join(".")}`;
  const low = { RATE_LIMIT_AUTH_MAX: "3", RATE_LIMIT_AUTH_WINDOW_SECONDS: "60" };
  const bad = () => `relay_live_${"x".repeat(20)}${crypto.randomUUID().replaceAll("-", "").slice(0, 23)}`;

  it("refuses an address after RATE_LIMIT_AUTH_MAX failures, without looking keys up", async () => {
    const ip = address();
    const from = (key: string, at = ip) =>
      callWith(low, "/v1/keys", { key, headers: { "cf-connecting-ip": at } });
    const { apiKey } = await gatewayTenant();
    expect((await from(apiKey)).status).toBe(200); // this isolate now knows the key

    for (let i = 0; i < 3; i++) expect((await from(bad())).status).toBe(401);
    const refused = await from(bad());
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe("auth_rate_limit_exceeded");
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(50);
    expect((await from("not-even-a-key")).status).toBe(429);

    // A key the isolate knows still works from there; one it would have to look up does not.
    expect((await from(apiKey)).status).toBe(200);
    const fresh = await call("/v1/keys", { method: "POST", key: apiKey, json: { name: "fresh" } });
    expect((await from(fresh.body.apiKey)).status).toBe(429);
    // Other addresses are not affected.
    expect((await from(bad(), address())).status).toBe(401);
    expect((await from(fresh.body.apiKey, address())).status).toBe(200);
  });

  it("counts wrong admin tokens the same way", async () => {
    const ip = address();
    const attempt = () =>
      callWith(low, "/admin/tenants", {
        headers: { authorization: "Bearer wrong-token-1234567", "cf-connecting-ip": ip },
      });
    for (let i = 0; i < 3; i++) expect((await attempt()).status).toBe(401);
    expect((await attempt()).status).toBe(429);
  });
});

describe("when Redis fails", () => {
  const dead = { UPSTASH_REDIS_REST_URL: "http://127.0.0.1:9/redis" };

  it("serves without limits in open mode, refuses with 503 in closed mode", async () => {
    const { apiKey } = await limitedKey({ rpm: 100 });
    const model = unique("groq:llama");
    const closed = await chat(apiKey, { model }, { ...dead, RELAY_LIMITS_ON_REDIS_FAILURE: "closed" });
    expect(closed.status).toBe(503);
    expect(closed.body.error.code).toBe("limits_unavailable");
    const open = await chat(apiKey, { model }, { ...dead, RELAY_LIMITS_ON_REDIS_FAILURE: "open" });
    expect(open.status).toBe(200);
    expect(open.headers.get("x-relay-limits")).toBe("unenforced");
  });

  it("refuses a limited key when no Redis is configured, naming what to set", async () => {
    const { tenant, apiKey } = await limitedKey({ rpm: 100 });
    const none = { UPSTASH_REDIS_REST_URL: "", UPSTASH_REDIS_REST_TOKEN: "" };
    const refused = await chat(apiKey, { model: unique("groq:llama") }, none);
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe("limits_unavailable");
    expect(refused.body.error.message).toContain("UPSTASH_REDIS_REST_URL");
    expect(refused.body.error.message).toContain("REDIS_URL");
    // Keys without limits, and allow-lists and expiry, need no Redis.
    expect((await chat(tenant.apiKey, { model: unique("groq:llama") }, none)).status).toBe(200);
    const listed = await limitedKey({ allowedModels: ["groq:*"] });
    expect((await chat(listed.apiKey, { model: unique("groq:llama") }, none)).status).toBe(200);
  });
});
