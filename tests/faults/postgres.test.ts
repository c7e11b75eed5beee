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

// Postgres goes away for 30 s under steady traffic: first as a dead network (connections hang),
// then as a closed port (connections are refused). Relay keeps serving the keys it knows, queues
// what it records, and loses none of it.

const OUTAGE_MS = 30_000;

describe("Postgres unreachable for 30 s", () => {
  let stack: FaultStack;
  beforeAll(async () => {
    stack = await startFaultStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("keeps serving cached keys, reports the outage, and loses no usage or run event", async () => {
    const model = `groq:pg-outage-${crypto.randomUUID()}`;
    // Warm: the key and the tenant's credentials are cached from here on.
    expect((await chat(stack, model, false)).status).toBe(200);
    expect((await stack.call("/readyz", { key: null })).status).toBe(200);

    const chats = steady(200, (i) => chat(stack, model, i % 2 === 0));
    const runs = steady(2500, () => agentRun(stack, model));
    await sleep(1500);

    const cutAt = Date.now();
    await stack.pg.cut("blackhole");
    const down = await stack.call("/readyz", { key: null });
    expect(down.status).toBe(503);
    expect(down.json().checks.postgres.ok).toBe(false);
    await sleep(OUTAGE_MS / 2);
    await stack.pg.cut("refuse");
    const refused = await stack.call("/readyz", { key: null });
    expect(refused.status).toBe(503);
    expect(refused.json().checks.postgres.ok).toBe(false);
    await sleep(OUTAGE_MS - (Date.now() - cutAt));
    await stack.pg.restore();
    await sleep(1500);

    const answers = await chats.stop();
    const started = await runs.stop();
    // Every request of the outage was served, streamed ones to their end.
    expect(answers.length).toBeGreaterThan(100);
    expect(answers.filter((a) => a.status !== 200).map((a) => `${a.status} ${a.text.slice(0, 200)}`)).toEqual(
      [],
    );
    for (const [i, a] of answers.entries())
      if (i % 2 === 0) expect(a.text.trimEnd().endsWith("data: [DONE]")).toBe(true);
    expect(started.length).toBeGreaterThan(8);
    for (const run of started) expect(run.events.at(-1)?.type, run.text).toBe("done");

    expect(
      await eventually(async () => (await stack.call("/readyz", { key: null })).status === 200, 20_000),
    ).toBe(true);

    // Zero lost: one usage event per request the upstream received (its own log), and every run's
    // events, replayed from Postgres, are the very frames its client saw.
    const upstream = await stack.upstreamRequests(model.slice("groq:".length));
    const counted = async () => {
      await stack.call("/v1/usage"); // a read drains the queue first
      const [row] = await stack.query<{ n: string; attempts: string }>(
        "select count(*) as n, coalesce(sum(attempts), 0) as attempts from usage_events where tenant_id = $1 and requested_model = $2",
        [stack.tenantId, model],
      );
      return Number(row?.attempts);
    };
    expect(await eventually(async () => (await counted()) === upstream.length, 30_000, 1000)).toBe(true);
    expect(await counted()).toBe(upstream.length);

    for (const run of started) {
      const replay = await stack.call(`/v1/runs/${run.runId}/events`, {
        headers: { accept: "text/event-stream" },
      });
      expect(replay.status).toBe(200);
      expect(replay.text).toBe(run.text);
      const [row] = await stack.query<{ status: string }>("select status from runs where id = $1", [
        run.runId,
      ]);
      expect(row?.status).toBe("completed");
    }
  });

  it("leaked no secret into any log line, response body or header", () => {
    expect(leakedSecrets(stack)).toEqual([]);
  });
});
