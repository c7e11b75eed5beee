import { resolve } from "node:path";
import type { TestProject } from "vitest/node";
import { dropOutbox } from "../../scripts/lib/scratch";
import { WORKER_SETTINGS } from "../../workers/config/env";
import { createTestDatabase, freePort, REDIS_URL, ROOT, randomHex, startTestSidecar } from "../helpers/stack";
import { startMockUpstream } from "../mocks/upstream";

/**
 * Runs in Node before the Worker tests: a fresh, migrated database on the machine's Postgres and
 * the sidecar on a free port, which carries the Worker's Postgres traffic (WebSocket proxy) and
 * its Redis traffic (Upstash REST). Everything it starts it stops.
 */
export default async function setup(project: TestProject) {
  const database = await createTestDatabase();
  const deadPort = await freePort(); // allow-listed but closed: "Postgres is down"
  const redisToken = randomHex(24);
  const mock = await startMockUpstream();
  const internalSecret = randomHex(24);
  // A local model for the edge tests: the fake llama-server behind the sidecar's lifecycle manager.
  const fake = `exec "${process.execPath}" "${resolve(ROOT, "tests/fixtures/fake-llama-server.mjs")}"`;
  const sidecar = await startTestSidecar({
    RELAY_PG_PROXY_TARGETS: `127.0.0.1:5432,127.0.0.1:${deadPort}`,
    REDIS_URL,
    RELAY_REDIS_REST_TOKEN: redisToken,
    RELAY_INTERNAL_SECRET: internalSecret,
    RELAY_MODEL_LIFECYCLE_ENABLED: "true",
    RELAY_MODEL_MAP: JSON.stringify({
      tiny: { cmd: `FAKE_LOAD_MS=300 ${fake}`, ctx_size: 2048 },
      // Loaded and unloaded by the console's operator tests, so they never disturb tiny's.
      "operator-tiny": { cmd: `FAKE_LOAD_MS=100 ${fake}`, ctx_size: 4096 },
    }),
    RELAY_MODEL_PORT_BASE: String(await freePort()),
    RELAY_SHUTDOWN_GRACE_MS: "3000",
  });

  // Every setting the Worker reads is set, empty when unused, so a developer's .dev.vars cannot
  // leak into tests.
  const unset = Object.fromEntries(WORKER_SETTINGS.map((name) => [name, ""]));
  const bindings = {
    ...unset,
    RELAY_MASTER_KEY_PREVIOUS: "",
    RELAY_INTERNAL_SECRET: internalSecret,
    RELAY_KEY_CACHE_TTL_MS: "5000",
    MAX_REQUEST_BODY_BYTES: "1048576",
    DATABASE_URL: database.url,
    RELAY_DB_WS_PROXY: `ws://127.0.0.1:${sidecar.port}/v2`,
    RELAY_MASTER_KEY: randomHex(32),
    RELAY_ADMIN_TOKEN: randomHex(24),
    UPSTASH_REDIS_REST_URL: `${sidecar.url}/redis`,
    UPSTASH_REDIS_REST_TOKEN: redisToken,
    // The mock upstreams live on 127.0.0.1; the SSRF tests turn this off for themselves.
    RELAY_ALLOW_PRIVATE_UPSTREAMS: "true",
    RELAY_CLOUD_MODELS: JSON.stringify({
      "deepseek-chat": { base_url: `${mock.url}/openai/v1`, auth_env: "DEEPSEEK_API_KEY", ctx_size: 131072 },
    }),
    DEEPSEEK_API_KEY: "sk-test-openai",
    RELAY_CLOUD_FALLBACK_URL: "",
    RELAY_UNKNOWN_FIELD_POLICY: "pass_through",
    RELAY_MODEL_PRICES: "",
    DEFAULT_MODEL: "",
    REQUEST_TIMEOUT_SECONDS: "600",
    RELAY_FIRST_BYTE_TIMEOUT_SECONDS: "120",
    MOCK_UPSTREAM_URL: mock.url,
    // Credentials without a baseUrl reach "OpenAI's own API" and "Anthropic's own API": the mock.
    RELAY_OPENAI_BASE_URL: `${mock.url}/openai/v1`,
    RELAY_ANTHROPIC_BASE_URL: `${mock.url}/anthropic`,
    LIVEKIT_URL: "wss://livekit.relay.test",
    LIVEKIT_API_KEY: "APIrelaytests",
    LIVEKIT_API_SECRET: randomHex(24),
    RELAY_LIVEKIT_ALLOW_ADMIN_GRANTS: "false",
    SIDECAR_URL: sidecar.url,
    // Every test request comes from one address: the suites' deliberate bad keys must not add up
    // to a block. The limiter's own tests set a low limit and addresses of their own.
    RATE_LIMIT_AUTH_MAX: "1000000",
  };
  project.provide("workerBindings", bindings);
  project.provide("deadDatabaseUrl", `postgres://postgres@127.0.0.1:${deadPort}/${database.name}`);

  // Each step runs whatever the others do: a failed step must not leave a process or a database.
  return async () => {
    const steps = [
      () => mock.close(),
      () => sidecar.stop(),
      // This run's outbox belongs to the database about to be dropped.
      () => dropOutbox(REDIS_URL, database.url),
      () => database.drop(),
    ];
    const failures: unknown[] = [];
    for (const step of steps) await step().catch((err: unknown) => failures.push(err));
    if (failures.length) throw new AggregateError(failures, "global teardown");
  };
}

declare module "vitest" {
  export interface ProvidedContext {
    workerBindings: Record<string, string>;
    deadDatabaseUrl: string;
  }
}
