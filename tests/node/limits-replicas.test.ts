import { rmSync } from "node:fs";
import { resolve } from "node:path";
import IORedis from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedRelay } from "../../bench/seed";
import { buildWorker, serveWithWorkerd } from "../../bench/workerd";
import { type Managed, startProcess, stopProcess, waitForHttp } from "../../scripts/lib/processes";
import { dropOutbox } from "../../scripts/lib/scratch";
import { limitKeys, periodsAt, WINDOW_MS } from "../../workers/limits/keys";
import {
  createTestDatabase,
  freePort,
  REDIS_URL,
  ROOT,
  type RunningSidecar,
  randomHex,
  startTestSidecar,
  type TestDatabase,
} from "../helpers/stack";

// Two Worker processes (workerd, serving the bundle `wrangler deploy` would ship) share one Redis
// and one key with rpm 30, and are hammered at five times that for over a minute. The limit must
// hold across both exactly: 30 admitted in the first window, never more than 30 in any window.
// Admissions are read back from the key's own log in Redis, on Redis's clock.

const RPM = 30;
const HAMMER_MS = 66_000;
const OUT = resolve(ROOT, ".bench/limits-test");

let database: TestDatabase;
let sidecar: RunningSidecar;
let mock: Managed;
const workers: Managed[] = [];
const origins: string[] = [];
let apiKey: string;
let keyId: string;

beforeAll(async () => {
  database = await createTestDatabase();
  const mockPort = await freePort();
  mock = startProcess(
    "mock",
    process.execPath,
    ["--no-warnings", resolve(ROOT, "bench/mock-upstream.ts"), String(mockPort)],
    { quiet: true },
  );
  const mockUrl = `http://127.0.0.1:${mockPort}`;
  await waitForHttp(`${mockUrl}/health`, 10_000, () => mock.child.exitCode === null);
  const masterKey = randomHex(32);
  const seeded = await seedRelay(database.url, masterKey, mockUrl, { limited: { rpm: RPM } });
  apiKey = seeded.apiKeys.limited as string;
  keyId = seeded.keyIds.limited as string;
  const redisToken = randomHex(24);
  sidecar = await startTestSidecar({
    RELAY_PG_PROXY_TARGETS: "127.0.0.1:5432",
    REDIS_URL,
    RELAY_REDIS_REST_TOKEN: redisToken,
  });
  await buildWorker(OUT);
  for (let i = 0; i < 2; i++) {
    const port = await freePort();
    workers.push(
      await serveWithWorkerd({
        name: `relay-${i}`,
        bundleDir: OUT,
        port,
        wrap: [],
        compatibilityFlags: ["nodejs_compat", "enable_request_signal"],
        bindings: {
          DATABASE_URL: database.url,
          RELAY_DB_WS_PROXY: `ws://127.0.0.1:${sidecar.port}/v2`,
          RELAY_MASTER_KEY: masterKey,
          UPSTASH_REDIS_REST_URL: `${sidecar.url}/redis`,
          UPSTASH_REDIS_REST_TOKEN: redisToken,
          RELAY_ALLOW_PRIVATE_UPSTREAMS: "true",
        },
      }),
    );
    origins.push(`http://127.0.0.1:${port}`);
  }
}, 120_000);

afterAll(async () => {
  for (const w of workers) await stopProcess(w);
  if (mock) await stopProcess(mock);
  await sidecar?.stop();
  if (database) {
    await dropOutbox(REDIS_URL, database.url);
    await database.drop();
  }
  rmSync(OUT, { recursive: true, force: true });
}, 60_000);

describe("rate limits across replicas", () => {
  it(
    "admits exactly rpm requests in every window across two processes hammered at 5x",
    async () => {
      const redis = new IORedis(REDIS_URL);
      const log = limitKeys(keyId, periodsAt(Date.now())).requests;
      // The admission log keeps 60 s; read it often enough to see every entry.
      const admitted = new Map<string, number>();
      const collect = async () => {
        const entries = await redis.zrange(log, 0, -1, "WITHSCORES");
        for (let i = 0; i < entries.length; i += 2)
          admitted.set(entries[i] as string, Number(entries[i + 1]));
      };
      const poller = setInterval(() => void collect(), 5_000);

      const statuses: Record<number, number>[] = [{}, {}];
      const interval = 60_000 / (RPM * 5);
      const started = Date.now();
      const inFlight: Promise<void>[] = [];
      try {
        for (let n = 0; Date.now() - started < HAMMER_MS; n++) {
          const which = n % 2;
          inFlight.push(
            fetch(`${origins[which]}/v1/chat/completions`, {
              method: "POST",
              headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
              body: JSON.stringify({
                model: "openai:bench-100-0",
                messages: [{ role: "user", content: "hi" }],
              }),
            }).then(async (res) => {
              await res.arrayBuffer();
              const counts = statuses[which] as Record<number, number>;
              counts[res.status] = (counts[res.status] ?? 0) + 1;
            }),
          );
          await new Promise((r) => setTimeout(r, started + (n + 1) * interval - Date.now()));
        }
        await Promise.all(inFlight);
        await collect();
      } finally {
        clearInterval(poller);
        redis.disconnect();
      }

      const ok = (statuses[0]?.[200] ?? 0) + (statuses[1]?.[200] ?? 0);
      const refused = (statuses[0]?.[429] ?? 0) + (statuses[1]?.[429] ?? 0);
      // Every answer was an admission or a 429, and both processes admitted requests.
      expect(ok + refused).toBe(inFlight.length);
      expect(statuses[0]?.[200]).toBeGreaterThan(0);
      expect(statuses[1]?.[200]).toBeGreaterThan(0);
      // Every 200 is in the log, and nothing else is.
      expect(admitted.size).toBe(ok);

      const times = [...admitted.values()].sort((a, b) => a - b);
      const first = times[0] as number;
      const inWindow = (end: number) => times.filter((t) => t > end - WINDOW_MS && t <= end).length;
      // The first window: exactly the limit, though five times as many asked.
      expect(times.filter((t) => t < first + WINDOW_MS).length).toBe(RPM);
      // Any 60 s window (one ending at each admission is the fullest there is): never more.
      expect(Math.max(...times.map(inWindow))).toBe(RPM);
      // The window slid: admissions resumed once the first ones were a minute old.
      expect(times.length).toBeGreaterThan(RPM);
      expect((times[RPM] as number) - first).toBeGreaterThanOrEqual(WINDOW_MS);
    },
    HAMMER_MS + 60_000,
  );
});
