import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWorker, serveWithWorkerd } from "../../bench/workerd";
import { SseParser } from "../../common/sse";
import { connectUrl } from "../../scripts/lib/database";
import { type Managed, stopProcess } from "../../scripts/lib/processes";
import { dropOutbox, type RunningSidecar, startSidecarProcess } from "../../scripts/lib/scratch";
import { loadMasterKeys } from "../../workers/credentials/crypto";
import { putCredential } from "../../workers/db/queries/credentials";
import { createTenant, issueApiKey } from "../../workers/db/queries/tenants";
import { createTestDatabase, freePort, REDIS_URL, randomHex, type TestDatabase } from "../helpers/stack";
import { startMockUpstream } from "../mocks/upstream";

// A run served by several isolates and sidecar replicas, with no sticky sessions: the run's loop
// lives in one Worker process whose broker is sidecar 1; its client posts tool results through
// another Worker process whose broker is sidecar 2. Redis carries the results between them.

const tools = ["get_weather", "get_time"].map((name) => ({
  kind: "function",
  name,
  description: name,
  inputSchema: { type: "object" },
}));

describe("agent runs across replicas", () => {
  let database: TestDatabase;
  let mock: Awaited<ReturnType<typeof startMockUpstream>>;
  let apiKey: string;
  const buildDir = mkdtempSync(join(tmpdir(), "relay-replicas-"));
  const processes: Managed[] = [];
  const sidecars: RunningSidecar[] = [];
  const internalSecret = randomHex(24);
  const redisToken = randomHex(24);
  const masterKey = randomHex(32);
  let workerA = "";
  let workerB = "";
  let sidecar1Port = 0;

  const sidecarEnv = (redisUrl = REDIS_URL) => ({
    RELAY_PG_PROXY_TARGETS: "127.0.0.1:5432",
    REDIS_URL: redisUrl,
    RELAY_REDIS_REST_TOKEN: redisToken,
    RELAY_INTERNAL_SECRET: internalSecret,
    RELAY_SHUTDOWN_GRACE_MS: "500",
  });

  async function worker(name: string, brokerSidecar: string, plumbing: RunningSidecar): Promise<string> {
    const port = await freePort();
    const proc = await serveWithWorkerd({
      name,
      bundleDir: join(buildDir, "bundle"),
      port,
      wrap: [],
      compatibilityFlags: ["nodejs_compat", "enable_request_signal"],
      bindings: {
        DATABASE_URL: database.url,
        RELAY_DB_WS_PROXY: `ws://127.0.0.1:${plumbing.port}/v2`,
        RELAY_MASTER_KEY: masterKey,
        RELAY_INTERNAL_SECRET: internalSecret,
        UPSTASH_REDIS_REST_URL: `${plumbing.url}/redis`,
        UPSTASH_REDIS_REST_TOKEN: redisToken,
        RELAY_ALLOW_PRIVATE_UPSTREAMS: "true",
        SIDECAR_URL: brokerSidecar,
      },
    });
    processes.push(proc);
    return `http://127.0.0.1:${port}`;
  }

  beforeAll(async () => {
    await buildWorker(join(buildDir, "bundle"));
    database = await createTestDatabase();
    mock = await startMockUpstream();
    const seed = await connectUrl(database.url);
    try {
      const tenant = await createTenant(seed.db, { actor: "test" }, "replicas");
      if (!tenant) throw new Error("no tenant");
      apiKey = (await issueApiKey(seed.db, { actor: "test" }, tenant.id, "test")).apiKey;
      await putCredential(seed.db, { actor: "test" }, tenant.id, await loadMasterKeys(masterKey), {
        name: "groq",
        provider: "openai_compatible",
        apiKey: "sk-test-openai",
        baseUrl: `${mock.url}/openai/v1`,
        label: null,
      });
    } finally {
      await seed.close();
    }
    const s1 = await startSidecarProcess(sidecarEnv());
    const s2 = await startSidecarProcess(sidecarEnv());
    sidecars.push(s1, s2);
    sidecar1Port = s1.port;
    // A's loop waits on sidecar 1; its database and Redis go through sidecar 2, which stays up.
    workerA = await worker("worker-a", s1.url, s2);
    workerB = await worker("worker-b", s2.url, s2);
  }, 120_000);

  afterAll(async () => {
    for (const p of processes) await stopProcess(p);
    for (const s of sidecars) await s.stop();
    await mock?.close();
    if (database) {
      await dropOutbox(REDIS_URL, database.url);
      await database.drop();
    }
    rmSync(buildDir, { recursive: true, force: true });
  });

  /** Starts a run on `at`; on each tool call, `onCall` decides what happens (posting through B). */
  async function run(at: string, onCall: (runId: string, id: string) => Promise<void>) {
    const res = await fetch(`${at}/v1/runs`, {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model: `groq:m-${crypto.randomUUID()}`, input: "Weather?", tools }),
    });
    expect(res.status).toBe(200);
    const runId = res.headers.get("x-run-id") as string;
    const parser = new SseParser();
    const events: any[] = [];
    const pending: Promise<void>[] = [];
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      for (const ev of parser.push(decoder.decode(chunk, { stream: true }))) {
        const event = JSON.parse(ev.data);
        events.push(event);
        if (event.type === "tool_call") pending.push(onCall(runId, event.id));
      }
    }
    await Promise.all(pending);
    return events;
  }

  const postThroughB = async (runId: string, id: string) => {
    const res = await fetch(`${workerB}/v1/runs/${runId}/tool-results/${encodeURIComponent(id)}`, {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ output: "sunny" }),
    });
    expect(res.status, await res.text()).toBe(200);
  };

  it("completes a run whose results are posted through another isolate and another sidecar", async () => {
    const events = await run(workerA, postThroughB);
    expect(events.at(-1)).toMatchObject({ type: "done", output: "It is sunny in Paris." });
  });

  it("still completes when the sidecar it waits on is killed mid-wait and comes back", async () => {
    let killed: Promise<void> | null = null;
    const events = await run(workerA, async (runId, id) => {
      // The first call kills sidecar 1 (where A's loop waits), both results go through B meanwhile,
      // then sidecar 1 comes back on its port; A's retried long-poll finds them in Redis.
      killed ??= (async () => {
        const s1 = sidecars[0] as RunningSidecar;
        process.kill(s1.process.child.pid as number, "SIGKILL");
        await s1.process.exited;
      })();
      await killed;
      await postThroughB(runId, id);
      if (id === "call_weather_1") {
        await new Promise((r) => setTimeout(r, 500));
        sidecars[0] = await startSidecarProcess(sidecarEnv(), { port: sidecar1Port });
      }
    });
    expect(events.at(-1)).toMatchObject({ type: "done", output: "It is sunny in Paris." });
  });

  it("refuses a run at once with 503 broker_unavailable when the broker's Redis is unreachable", async () => {
    const dead = await startSidecarProcess(sidecarEnv(`redis://127.0.0.1:${await freePort()}`));
    sidecars.push(dead);
    const url = await worker("worker-c", dead.url, sidecars[1] as RunningSidecar);
    const started = Date.now();
    const res = await fetch(`${url}/v1/runs`, {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "groq:m", input: "Weather?", tools }),
    });
    expect(res.status).toBe(503);
    expect(((await res.json()) as any).error.code).toBe("broker_unavailable");
    expect(Date.now() - started).toBeLessThan(3000);
  });
});
