import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import pg from "pg";
import { inject } from "vitest";
import { serveWithWorkerd } from "../../bench/workerd";
import { SseParser } from "../../common/sse";
import { connectUrl } from "../../scripts/lib/database";
import { type Managed, stopProcess } from "../../scripts/lib/processes";
import { dropOutbox, type RunningSidecar, startSidecarProcess } from "../../scripts/lib/scratch";
import { WORKER_SETTINGS } from "../../workers/config/env";
import { loadMasterKeys } from "../../workers/credentials/crypto";
import { putCredential } from "../../workers/db/queries/credentials";
import { createTenant, issueApiKey } from "../../workers/db/queries/tenants";
import { createTestDatabase, freePort, ROOT, randomHex, type TestDatabase } from "../helpers/stack";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy";
import { type Recorded, startMockUpstream } from "../mocks/upstream";

// The real stack for fault injection, shaped as in production: the Worker in workerd; Postgres and
// Redis behind a "plumbing" sidecar that stands in for Neon and Upstash (WebSocket proxy and REST),
// each reached through a TCP proxy the test can cut; and a "compute" sidecar (broker and local
// models) that the test can kill without touching the database path. Every line any process logs
// and every response the stack gives is kept, so a test can scan them for secrets.

export const PG_TARGET = { host: "127.0.0.1", port: 5432 };
export const REDIS_TARGET = { host: "127.0.0.1", port: 6379 };
const FAKE_LLAMA = resolve(ROOT, "tests/fixtures/fake-llama-server.mjs");

export interface FaultStack {
  base: string;
  apiKey: string;
  adminToken: string;
  tenantId: string;
  mock: Awaited<ReturnType<typeof startMockUpstream>>;
  pg: TcpProxy;
  redis: TcpProxy;
  database: TestDatabase;
  /** DATABASE_URL as the Worker has it (through the proxy): it names the outbox queue. */
  workerDatabaseUrl: string;
  /** Every secret of the stack: none may appear in a log line, a response body or a header. */
  secrets: string[];
  /** Every log line of every process of the stack. */
  logs: string[];
  /** Every response body and header block the stack gave (via `call`). */
  responses: string[];
  /** fetch against the Worker, with the API key, keeping the response's headers and body. */
  call(
    path: string,
    init?: RequestInit & { json?: unknown; key?: string | null; at?: string },
  ): Promise<Answer>;
  /**
   * A new API key of the tenant (POST /v1/keys): the one response that must show a secret is kept
   * out of the scan, and the key joins the secrets.
   */
  issueKey(name: string, policy?: Record<string, unknown>): Promise<string>;
  /** Rows straight from Postgres (not through the proxy). */
  query<T = Record<string, unknown>>(text: string, values?: unknown[]): Promise<T[]>;
  /** What the mock upstream received for a model. */
  upstreamRequests(model: string): Promise<Recorded[]>;
  killWorker(): Promise<void>;
  startWorker(): Promise<void>;
  /** Another Worker process on the same stack, with some settings changed; returns its base URL. */
  startExtraWorker(settings: Record<string, string>): Promise<string>;
  killCompute(): Promise<void>;
  startCompute(): Promise<void>;
  stop(): Promise<void>;
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json(): any;
}

export async function startFaultStack(
  opts: { worker?: Record<string, string>; compute?: Record<string, string> } = {},
): Promise<FaultStack> {
  const dir = mkdtempSync(join(tmpdir(), "relay-fault-stack-"));
  // Each stack serves its own copy: serveWithWorkerd writes its config beside the bundle.
  const bundleDir = join(dir, "bundle");
  cpSync(inject("faultBundleDir"), bundleDir, { recursive: true });

  const logs: string[] = [];
  const responses: string[] = [];
  const onOutput = (line: string) => {
    if (line.trim()) logs.push(line);
  };
  const internalSecret = randomHex(24);
  const redisToken = randomHex(24);
  const masterKey = randomHex(32);
  const adminToken = randomHex(24);
  const providerKey = "sk-test-openai";

  const database = await createTestDatabase();
  const pgProxy = await startTcpProxy(PG_TARGET);
  const redisProxy = await startTcpProxy(REDIS_TARGET);
  const mock = await startMockUpstream();
  const proxiedDbUrl = new URL(database.url);
  proxiedDbUrl.port = String(pgProxy.port);
  const redisUrl = redisProxy.url("redis");

  const plumbing = await startSidecarProcess(
    {
      RELAY_PG_PROXY_TARGETS: `127.0.0.1:${pgProxy.port}`,
      REDIS_URL: redisUrl,
      RELAY_REDIS_REST_TOKEN: redisToken,
      RELAY_INTERNAL_SECRET: internalSecret,
      RELAY_SHUTDOWN_GRACE_MS: "500",
    },
    { onOutput },
  );
  const computePort = await freePort();
  const computeEnv = {
    REDIS_URL: redisUrl,
    RELAY_INTERNAL_SECRET: internalSecret,
    RELAY_SHUTDOWN_GRACE_MS: "500",
    RELAY_MODEL_LIFECYCLE_ENABLED: "true",
    RELAY_MODEL_MAP: JSON.stringify({
      tiny: { cmd: `FAKE_LOAD_MS=100 exec "${process.execPath}" "${FAKE_LLAMA}"`, ctx_size: 2048 },
    }),
    RELAY_MODEL_PORT_BASE: String(await freePort()),
    RELAY_LIFECYCLE_STATE_FILE: join(dir, "models.json"),
    ...opts.compute,
  };
  let compute: RunningSidecar | null = await startSidecarProcess(computeEnv, { port: computePort, onOutput });
  // A killed sidecar's model servers outlive it (a restarted one adopts or stops them): its process
  // group is stopped when the stack is.
  const computeGroups = [compute.process];

  const seed = await connectUrl(database.url);
  let apiKey = "";
  let tenantId = "";
  try {
    const tenant = await createTenant(seed.db, { actor: "test" }, "faults");
    if (!tenant) throw new Error("no tenant");
    tenantId = tenant.id;
    apiKey = (await issueApiKey(seed.db, { actor: "test" }, tenant.id, "faults")).apiKey;
    await putCredential(seed.db, { actor: "test" }, tenant.id, await loadMasterKeys(masterKey), {
      name: "groq",
      provider: "openai_compatible",
      apiKey: providerKey,
      baseUrl: `${mock.url}/openai/v1`,
      label: null,
    });
  } finally {
    await seed.close();
  }

  const workerPort = await freePort();
  const bindings = {
    ...Object.fromEntries(WORKER_SETTINGS.map((name) => [name, ""])),
    DATABASE_URL: proxiedDbUrl.href,
    RELAY_DB_WS_PROXY: `ws://127.0.0.1:${plumbing.port}/v2`,
    UPSTASH_REDIS_REST_URL: `${plumbing.url}/redis`,
    UPSTASH_REDIS_REST_TOKEN: redisToken,
    RELAY_MASTER_KEY: masterKey,
    RELAY_ADMIN_TOKEN: adminToken,
    RELAY_INTERNAL_SECRET: internalSecret,
    RELAY_ALLOW_PRIVATE_UPSTREAMS: "true",
    RELAY_OPENAI_BASE_URL: `${mock.url}/openai/v1`,
    RELAY_ANTHROPIC_BASE_URL: `${mock.url}/anthropic`,
    SIDECAR_URL: `http://127.0.0.1:${computePort}`,
    ...opts.worker,
  };
  let worker: Managed | null = null;
  const startWorker = async () => {
    worker = await serveWithWorkerd({
      name: "worker",
      bundleDir,
      port: workerPort,
      wrap: [],
      compatibilityFlags: ["nodejs_compat", "enable_request_signal"],
      bindings,
      onOutput,
    });
  };
  await startWorker();
  const extraWorkers: Managed[] = [];
  const startExtraWorker = async (settings: Record<string, string>) => {
    const port = await freePort();
    const extraDir = join(dir, `bundle-${extraWorkers.length + 1}`);
    cpSync(bundleDir, extraDir, { recursive: true });
    extraWorkers.push(
      await serveWithWorkerd({
        name: "worker-extra",
        bundleDir: extraDir,
        port,
        wrap: [],
        compatibilityFlags: ["nodejs_compat", "enable_request_signal"],
        bindings: { ...bindings, ...settings },
        onOutput,
      }),
    );
    return `http://127.0.0.1:${port}`;
  };

  const pool = new pg.Pool({ connectionString: database.url, max: 2 });
  const base = `http://127.0.0.1:${workerPort}`;

  const stack: FaultStack = {
    base,
    apiKey,
    adminToken,
    tenantId,
    mock,
    pg: pgProxy,
    redis: redisProxy,
    database,
    workerDatabaseUrl: proxiedDbUrl.href,
    secrets: [internalSecret, redisToken, masterKey, adminToken, apiKey, providerKey],
    logs,
    responses,
    async call(path, init = {}) {
      const { json, key, at, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (key !== null) headers.set("authorization", `Bearer ${key ?? apiKey}`);
      if (json !== undefined) headers.set("content-type", "application/json");
      const res = await fetch(`${at ?? base}${path}`, {
        ...rest,
        headers,
        body: json !== undefined ? JSON.stringify(json) : rest.body,
      });
      const text = await res.text();
      responses.push(`${[...res.headers].map(([k, v]) => `${k}: ${v}`).join("\n")}\n\n${text}`);
      return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
    },
    async issueKey(name, policy) {
      const res = await fetch(`${base}/v1/keys`, {
        method: "POST",
        headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
        body: JSON.stringify({ name, policy }),
      });
      const body = (await res.json()) as { apiKey?: string };
      if (res.status !== 201 || !body.apiKey) throw new Error(`POST /v1/keys: ${res.status}`);
      stack.secrets.push(body.apiKey);
      return body.apiKey;
    },
    async query(text, values) {
      return (await pool.query(text, values)).rows;
    },
    async upstreamRequests(model) {
      const res = await fetch(`${mock.url}/_mock/requests?model=${encodeURIComponent(model)}`);
      return (await res.json()) as Recorded[];
    },
    async killWorker() {
      const w = worker as Managed | null;
      if (!w) return;
      process.kill(-(w.child.pid as number), "SIGKILL");
      await w.exited;
      worker = null;
    },
    startWorker,
    startExtraWorker,
    async killCompute() {
      if (!compute) return;
      process.kill(compute.process.child.pid as number, "SIGKILL");
      await compute.process.exited;
      compute = null;
    },
    async startCompute() {
      compute = await startSidecarProcess(computeEnv, { port: computePort, onOutput });
      computeGroups.push(compute.process);
    },
    async stop() {
      const steps = [
        async () => {
          if (worker) await stopProcess(worker);
          for (const extra of extraWorkers) await stopProcess(extra);
        },
        async () => {
          for (const group of computeGroups) await stopProcess(group);
          // Model servers run in process groups of their own; a killed sidecar leaves them to the
          // next one, which a failed test may never start. The state file names them.
          const stateFile = join(dir, "models.json");
          if (!existsSync(stateFile)) return;
          for (const { pid } of JSON.parse(readFileSync(stateFile, "utf8")) as { pid: number }[]) {
            try {
              process.kill(-pid, "SIGKILL");
            } catch {}
          }
        },
        () => plumbing.stop(),
        () => pool.end(),
        () => mock.close(),
        () => pgProxy.close(),
        () => redisProxy.close(),
        () => dropOutbox(`redis://${REDIS_TARGET.host}:${REDIS_TARGET.port}`, proxiedDbUrl.href),
        () => database.drop(),
      ];
      for (const step of steps) await step().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return stack;
}

/** The secrets found in the stack's logs and responses: expected to be none. */
export function leakedSecrets(stack: FaultStack): string[] {
  const found: string[] = [];
  for (const secret of stack.secrets) {
    const where = [...stack.logs, ...stack.responses].find((text) => text.includes(secret));
    if (where) found.push(`${secret.slice(0, 6)}… in: ${where.slice(0, 300)}`);
  }
  return found;
}

/** A chat request, streamed or not; the answer's body is read to the end. */
export function chat(stack: FaultStack, model: string, stream: boolean): Promise<Answer> {
  return stack.call("/v1/chat/completions", {
    method: "POST",
    json: { model, stream, messages: [{ role: "user", content: "Say hello" }] },
  });
}

export const TOOLS = ["get_weather", "get_time"].map((name) => ({
  kind: "function",
  name,
  description: name,
  inputSchema: { type: "object" },
}));

/**
 * An agent run with tools, start to end: each tool call gets its result posted back. Returns the
 * run's id, the SSE text the client received and the parsed events.
 */
export async function agentRun(
  stack: FaultStack,
  model: string,
): Promise<{ status: number; runId: string; text: string; events: any[] }> {
  const res = await fetch(`${stack.base}/v1/runs`, {
    method: "POST",
    headers: { authorization: `Bearer ${stack.apiKey}`, "content-type": "application/json" },
    body: JSON.stringify({ model, input: "Weather in Paris?", tools: TOOLS }),
  });
  const runId = res.headers.get("x-run-id") ?? "";
  if (res.status !== 200) {
    const text = await res.text();
    stack.responses.push(text);
    return { status: res.status, runId, text, events: [] };
  }
  const parser = new SseParser();
  const decoder = new TextDecoder();
  const events: any[] = [];
  const posts: Promise<unknown>[] = [];
  let text = "";
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    const s = decoder.decode(chunk, { stream: true });
    text += s;
    for (const ev of parser.push(s)) {
      const event = JSON.parse(ev.data);
      events.push(event);
      if (event.type === "tool_call")
        posts.push(
          stack.call(`/v1/runs/${runId}/tool-results/${encodeURIComponent(event.id)}`, {
            method: "POST",
            json: { output: `result of ${event.name}` },
          }),
        );
    }
  }
  await Promise.all(posts);
  stack.responses.push(text);
  return { status: res.status, runId, text, events };
}

/**
 * Traffic at a steady pace until stopped: every `intervalMs` one more `send` starts (without waiting
 * for the last), so a slow dependency shows as latency, not as a pause in the load.
 */
export function steady<T>(intervalMs: number, send: (i: number) => Promise<T>) {
  const results: Promise<T>[] = [];
  let i = 0;
  const timer = setInterval(() => results.push(send(i++)), intervalMs);
  return {
    async stop(): Promise<T[]> {
      clearInterval(timer);
      return Promise.all(results);
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` holds or the time is up; returns whether it held. */
export async function eventually(
  check: () => Promise<boolean>,
  withinMs: number,
  everyMs = 500,
): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    if (await check().catch(() => false)) return true;
    if (Date.now() > deadline) return false;
    await sleep(everyMs);
  }
}
