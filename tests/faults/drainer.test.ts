import IORedis from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Env, loadConfig } from "../../workers/config/env";
import { outboxKeys } from "../../workers/outbox/queue";
import { chat, eventually, type FaultStack, leakedSecrets, sleep, startFaultStack } from "./stack";

// A Worker killed while it moves a batch of the outbox into Postgres: the batch was claimed (moved
// to the drainer's own list), not popped, so it is still in Redis; once the claim is stale, the
// next drain puts it back and writes it. Nothing is lost.

const STALE_MS = 3000;

describe("a Worker killed during a usage drain", () => {
  let stack: FaultStack;
  let redis: IORedis;
  beforeAll(async () => {
    stack = await startFaultStack({ worker: { RELAY_OUTBOX_CLAIM_STALE_MS: String(STALE_MS) } });
    redis = new IORedis("redis://127.0.0.1:6379", { lazyConnect: true });
    await redis.connect();
  });
  afterAll(async () => {
    redis?.disconnect();
    await stack?.stop();
  });

  it("loses no batch: a dead drainer's claim goes back to the queue and is written", async () => {
    const keys = outboxKeys(loadConfig({ DATABASE_URL: stack.workerDatabaseUrl } as Env));
    const model = `groq:drain-${crypto.randomUUID()}`;
    const requests = 40;
    for (let i = 0; i < requests; i++) expect((await chat(stack, model, i % 2 === 0)).status).toBe(200);
    // Nothing drains by itself here (no cron): the usage waits in the queue.
    expect(await eventually(async () => (await redis.llen(keys.queue)) >= requests, 5000, 100)).toBe(true);

    // Postgres hangs: the drain a read starts claims the batch, then waits on its insert.
    await stack.pg.cut("blackhole");
    const reading = stack.call("/v1/usage").catch(() => null);
    expect(await eventually(async () => (await redis.hlen(keys.claims)) === 1, 10_000, 50)).toBe(true);
    await stack.killWorker();
    await reading;
    const claimed = await redis.keys(`${keys.claimedPrefix}*`);
    expect(claimed).toHaveLength(1);
    expect(await redis.llen(claimed[0] as string)).toBe(requests);
    expect(await redis.llen(keys.queue)).toBe(0);

    await stack.pg.restore();
    await stack.startWorker();
    await sleep(STALE_MS + 500);
    const counted = async () => {
      await stack.call("/v1/usage");
      const [row] = await stack.query<{ n: string }>(
        "select count(*) as n from usage_events where requested_model = $1",
        [model],
      );
      return Number(row?.n);
    };
    expect(await eventually(async () => (await counted()) === requests, 20_000, 500)).toBe(true);
    expect(await redis.hlen(keys.claims)).toBe(0);
    expect(await redis.keys(`${keys.claimedPrefix}*`)).toEqual([]);
    // Written once, though claimed twice.
    expect(await counted()).toBe(requests);
  });

  it("stores items with NUL characters (which Postgres refuses) instead of losing them or blocking the queue", async () => {
    const keys = outboxKeys(loadConfig({ DATABASE_URL: stack.workerDatabaseUrl } as Env));
    const at = new Date().toISOString();
    const runId = crypto.randomUUID();
    const usage = (requestedModel: string) => ({
      kind: "usage",
      id: crypto.randomUUID(),
      requestId: `req_nul_${crypto.randomUUID().slice(0, 8)}`,
      tenantId: stack.tenantId,
      keyId: null,
      runId: null,
      endpoint: "chat",
      provider: "groq",
      model: "fuzz",
      requestedModel,
      status: 200,
      errorCode: null,
      stream: false,
      inputTokens: 1,
      outputTokens: 1,
      cachedTokens: 0,
      costUsd: null,
      latencyMs: 1,
      ttfbMs: null,
      attempts: 1,
      createdAt: at,
    });
    const run = {
      kind: "run",
      id: runId,
      tenantId: stack.tenantId,
      keyId: null,
      status: "completed",
      model: "groq:fuzz",
      system: null,
      input: [{ role: "user", content: "a\u0000b" }],
      tools: [],
      metadata: { "k\u0000": "v\u0000" },
      output: "an answer with a NUL: \u0000",
      error: null,
      iterations: 1,
      inputTokens: 1,
      outputTokens: 1,
      costUsd: null,
      parentRunId: null,
      workflowId: runId,
      createdAt: at,
      completedAt: at,
      updatedAt: at,
    };
    const marker = `groq:nul-${crypto.randomUUID().slice(0, 8)}`;
    // The NUL items first, a plain one behind them: it must not be held up.
    await redis.rpush(
      keys.queue,
      JSON.stringify(run),
      JSON.stringify(usage(`${marker}\u0000`)),
      JSON.stringify(usage(`${marker}-plain`)),
    );
    const stored = async () => {
      await stack.call("/v1/usage");
      const rows = await stack.query<{ requested_model: string }>(
        "select requested_model from usage_events where requested_model like $1",
        [`${marker}%`],
      );
      return rows.map((r) => r.requested_model).sort();
    };
    expect(await eventually(async () => (await stored()).length === 2, 20_000, 500)).toBe(true);
    expect(await stored()).toEqual([`${marker}-plain`, `${marker}\ufffd`]);
    const [row] = await stack.query<{ output: string; input: unknown; metadata: unknown }>(
      "select output, input, metadata from runs where id = $1",
      [runId],
    );
    expect(row).toEqual({
      output: "an answer with a NUL: \ufffd",
      input: [{ role: "user", content: "a\ufffdb" }],
      metadata: { "k\ufffd": "v\ufffd" },
    });
  });

  it("leaked no secret into any log line, response body or header", () => {
    expect(leakedSecrets(stack)).toEqual([]);
  });
});
