import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  agentRun,
  chat,
  eventually,
  type FaultStack,
  leakedSecrets,
  sleep,
  startFaultStack,
  steady,
} from "./stack";

// Redis goes away for 30 s under steady traffic, first as a dead network, then as a closed port.
// Usage is written straight to Postgres meanwhile; runs, which need the broker, are refused
// clearly; everything comes back without a restart.

const OUTAGE_MS = 30_000;

describe("Redis unreachable for 30 s", () => {
  let stack: FaultStack;
  beforeAll(async () => {
    stack = await startFaultStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("serves, records usage directly, refuses runs clearly, and recovers by itself", async () => {
    const model = `groq:redis-outage-${crypto.randomUUID()}`;
    expect((await chat(stack, model, false)).status).toBe(200);
    // Limits need Redis: one Worker fails open (the default), another closed.
    const closed = await stack.startExtraWorker({ RELAY_LIMITS_ON_REDIS_FAILURE: "closed" });
    const limitedKey = await stack.issueKey("limited", { rpm: 1000 });
    const limitedChat = (at?: string, key = limitedKey) =>
      stack.call("/v1/chat/completions", {
        method: "POST",
        at,
        key,
        json: { model, messages: [{ role: "user", content: "hi" }] },
      });
    expect((await limitedChat()).headers.get("x-ratelimit-limit-requests")).toBe("1000");
    expect((await limitedChat(closed)).status).toBe(200);
    const before = await agentRun(stack, model);
    expect(before.events.at(-1)?.type).toBe("done");

    const chats = steady(200, (i) => chat(stack, model, i % 2 === 0));
    await sleep(1000);
    const cutAt = Date.now();
    await stack.redis.cut("blackhole");
    await sleep(1000);

    const refusedRuns: { status: number; code: string; ms: number }[] = [];
    const tryRun = async () => {
      const t = Date.now();
      const run = await agentRun(stack, model);
      refusedRuns.push({
        status: run.status,
        code: run.status === 200 ? "" : JSON.parse(run.text).error.code,
        ms: Date.now() - t,
      });
    };
    await tryRun();
    const ready = await stack.call("/readyz", { key: null });
    expect(ready.json().checks.redis.ok).toBe(false);

    // RELAY_LIMITS_ON_REDIS_FAILURE: `open` serves and says so; `closed` refuses; a key without
    // limits never needed Redis.
    const open = await limitedChat();
    expect(open.status).toBe(200);
    expect(open.headers.get("x-relay-limits")).toBe("unenforced");
    const refused = await limitedChat(closed);
    expect(refused.status).toBe(503);
    expect(refused.json().error.code).toBe("limits_unavailable");
    expect((await limitedChat(closed, stack.apiKey)).status).toBe(200);
    await sleep(OUTAGE_MS / 2 - (Date.now() - cutAt));
    await stack.redis.cut("refuse");
    await tryRun();
    await sleep(OUTAGE_MS - (Date.now() - cutAt));
    await stack.redis.restore();

    // A run needs the broker: refused at once, in the envelope, not left hanging.
    for (const r of refusedRuns) {
      expect(r.status).toBe(503);
      expect(r.code).toBe("broker_unavailable");
      expect(r.ms).toBeLessThan(5000);
    }

    // Without a restart: runs work again once Redis is back.
    expect(
      await eventually(
        async () => (await agentRun(stack, model)).events.at(-1)?.type === "done",
        20_000,
        1000,
      ),
    ).toBe(true);
    await sleep(1000);
    const answers = await chats.stop();
    expect(answers.length).toBeGreaterThan(100);
    expect(answers.filter((a) => a.status !== 200).map((a) => `${a.status} ${a.text.slice(0, 200)}`)).toEqual(
      [],
    );
    for (const [i, a] of answers.entries())
      if (i % 2 === 0) expect(a.text.trimEnd().endsWith("data: [DONE]")).toBe(true);
    expect(
      await eventually(
        async () => (await stack.call("/readyz", { key: null })).json().checks.redis.ok,
        20_000,
      ),
    ).toBe(true);

    // Limits are enforced again, on both Workers.
    const tightKey = await stack.issueKey("tight", { rpm: 2 });
    for (const at of [undefined, closed]) {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await limitedChat(at, tightKey)).status);
      expect(statuses).toEqual(at ? [429, 429, 429] : [200, 200, 429]);
    }

    // Nothing lost: one usage event per upstream request, whichever way it reached Postgres.
    const upstream = await stack.upstreamRequests(model.slice("groq:".length));
    const counted = async () => {
      await stack.call("/v1/usage");
      const [row] = await stack.query<{ attempts: string }>(
        "select coalesce(sum(attempts), 0) as attempts from usage_events where tenant_id = $1 and requested_model = $2",
        [stack.tenantId, model],
      );
      return Number(row?.attempts);
    };
    expect(await eventually(async () => (await counted()) === upstream.length, 60_000, 1000)).toBe(true);
    expect(await counted()).toBe(upstream.length);
    // It went the other way meanwhile: straight to Postgres.
    expect(stack.logs.some((l) => l.includes("outbox queue unavailable; writing to Postgres"))).toBe(true);
  });

  it("leaked no secret into any log line, response body or header", () => {
    expect(leakedSecrets(stack)).toEqual([]);
  });
});
