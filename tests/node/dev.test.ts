import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseEnv } from "node:util";
import IORedis from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { groupAlive, portIsFree } from "../../scripts/lib/processes";
import type { Env } from "../../workers/config/env";
import { loadConfig } from "../../workers/config/env";
import { outboxKeys } from "../../workers/outbox/queue";
import {
  type DevStack,
  exampleDevVars,
  leftovers,
  lockExists,
  sleep,
  stackProcesses,
  startDev,
} from "../helpers/dev-stack";
import { runScript } from "../helpers/run";
import { createTestDatabase, freePort, REDIS_URL, ROOT, type TestDatabase } from "../helpers/stack";
import { startMockUpstream } from "../mocks/upstream";

// `npm run dev` started the way the README says (its own settings file, as `cp .dev.vars.example
// .dev.vars` and an edit make it), then used from outside like a user would: bootstrap in another
// "terminal", requests with curl-like fetches, and signals as a terminal or a supervisor sends them.

/** A command as a user types it in the repository, with some settings of their shell. */
function runCommand(
  command: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: "", RELAY_MASTER_KEY: "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const json = { "content-type": "application/json" };
const auth = (key: string) => ({ authorization: `Bearer ${key}`, ...json });

describe("npm run dev as a new user meets it", () => {
  const dirs: string[] = [];
  const stacks: DevStack[] = [];
  let mock: Awaited<ReturnType<typeof startMockUpstream>>;
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), "relay-dev-"));
    dirs.push(dir);
    return dir;
  };
  const track = (s: DevStack) => {
    stacks.push(s);
    return s;
  };

  beforeAll(async () => {
    mock = await startMockUpstream();
  });
  afterAll(async () => {
    for (const s of stacks) if (groupAlive(s.pgid)) process.kill(-s.pgid, "SIGKILL");
    await mock?.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it("passes every Worker setting from .dev.vars, fills its empty secrets, keeps usage across a restart and refuses a second stack on the same folder", async () => {
    const stateDir = tempDir();
    const devVars = join(stateDir, ".dev.vars");
    writeFileSync(
      devVars,
      exampleDevVars([
        "DEFAULT_MODEL=deepseek-chat",
        `RELAY_CLOUD_MODELS={"deepseek-chat":{"base_url":"${mock.url}/openai/v1","auth_env":"DEEPSEEK_API_KEY","ctx_size":131072}}`,
        "DEEPSEEK_API_KEY=sk-test-openai",
        `RELAY_CLOUD_FALLBACK_URL=${mock.url}/openai/v1`,
        "RELAY_CLOUD_FALLBACK_API_KEY=sk-test-openai",
        'RELAY_MODEL_PRICES={"deepseek-chat":{"input":2,"output":4}}',
        "RELAY_UNKNOWN_FIELD_POLICY=reject",
        "DEFAULT_TEMPERATURE=0.3",
        "RELAY_MAX_RETRIES=0",
        "RELAY_FIRST_BYTE_TIMEOUT_SECONDS=1",
        "LIVEKIT_URL=wss://livekit.dev-test.example",
        "LIVEKIT_API_KEY=APIdevtest",
        "LIVEKIT_API_SECRET=dev-test-livekit-secret-0123456789",
      ]),
    );
    const first = track(await startDev({ stateDir, devVars, env: { REDIS_URL } }));
    // cp .dev.vars.example .dev.vars: the empty secrets are filled, and it says so.
    expect(first.output()).toContain(
      "filled the empty RELAY_MASTER_KEY, RELAY_ADMIN_TOKEN, RELAY_INTERNAL_SECRET",
    );
    const vars = readFileSync(devVars, "utf8");
    expect(vars).toMatch(/^RELAY_MASTER_KEY=[0-9a-f]{64}$/m);
    expect(vars).toContain("DEFAULT_MODEL=deepseek-chat");

    // `npm run bootstrap -- --json` exactly as the README writes it: stdout must be one JSON object.
    const boot = await runCommand("npm", ["run", "bootstrap", "--", "--json"], {
      RELAY_STATE_DIR: stateDir,
      RELAY_DEV_VARS: devVars,
    });
    expect(boot.code, boot.stderr).toBe(0);
    const { apiKey } = JSON.parse(boot.stdout) as { apiKey: string };
    expect(boot.stderr).toContain("via the running npm run dev");

    // DEFAULT_MODEL and RELAY_CLOUD_MODELS (with the key its auth_env names) and DEFAULT_TEMPERATURE.
    const hello = await fetch(`${first.base}/v1/chat/completions`, {
      method: "POST",
      headers: auth(apiKey),
      body: JSON.stringify({ messages: [{ role: "user", content: "hello dev" }] }),
    });
    expect(hello.status, await hello.clone().text()).toBe(200);
    expect(hello.headers.get("x-relay-provider")).toBe("cloud");
    expect(((await hello.json()) as any).choices[0].message.content).toBe("Hello! You said: hello dev");
    const seen = (await (await fetch(`${mock.url}/_mock/requests?model=deepseek-chat`)).json()) as any[];
    expect(seen.at(-1)?.body.temperature).toBe(0.3);

    // RELAY_CLOUD_FALLBACK_URL, RELAY_MAX_RETRIES=0 and RELAY_FIRST_BYTE_TIMEOUT_SECONDS=1.
    const fallback = await fetch(`${first.base}/v1/chat/completions`, {
      method: "POST",
      headers: auth(apiKey),
      body: JSON.stringify({ model: "mistral-tiny~429x1~a", messages: [{ role: "user", content: "x" }] }),
    });
    expect(fallback.status).toBe(429);
    expect(fallback.headers.get("x-relay-provider")).toBe("fallback");
    expect(fallback.headers.get("x-relay-attempts")).toBe("1");
    const slow = await fetch(`${first.base}/v1/chat/completions`, {
      method: "POST",
      headers: auth(apiKey),
      body: JSON.stringify({ model: "mistral-tiny~slow2500~b", messages: [{ role: "user", content: "x" }] }),
    });
    expect(slow.status).toBe(504);
    expect(((await slow.json()) as any).error.message).toContain("RELAY_FIRST_BYTE_TIMEOUT_SECONDS=1");

    // RELAY_UNKNOWN_FIELD_POLICY=reject.
    const unknown = await fetch(`${first.base}/v1/chat/completions`, {
      method: "POST",
      headers: auth(apiKey),
      body: JSON.stringify({ messages: [{ role: "user", content: "x" }], not_a_field: 1 }),
    });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as any).error.code).toBe("unknown_field");

    // LiveKit.
    const token = await fetch(`${first.base}/v1/livekit/token`, {
      method: "POST",
      headers: auth(apiKey),
      body: JSON.stringify({ room: "standup", identity: "alice" }),
    });
    expect(token.status, await token.clone().text()).toBe(200);
    expect(((await token.json()) as any).url).toBe("wss://livekit.dev-test.example");

    // A few more requests whose usage must survive the restart.
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${first.base}/v1/chat/completions`, {
        method: "POST",
        headers: auth(apiKey),
        body: JSON.stringify({ messages: [{ role: "user", content: `n${i}` }], stream: i % 2 === 0 }),
      });
      expect(res.status).toBe(200);
      await res.text();
    }

    // A second stack on the same folder is refused, naming the running one and RELAY_STATE_DIR.
    const second = track(await startDev({ stateDir, devVars, env: { REDIS_URL }, expectExit: true }));
    expect(await second.exited).toBe(1);
    expect(second.output()).toContain(`is in use by npm run dev (pid ${first.runnerPid()}, ${first.base}`);
    expect(second.output()).toContain("RELAY_STATE_DIR");
    expect((await fetch(`${first.base}/health`)).status).toBe(200);
    expect(lockExists(stateDir)).toBe(true);

    // SIGTERM to the runner (a supervisor stopping it): everything goes, and nothing is lost.
    process.kill(first.runnerPid(), "SIGTERM");
    expect(await first.exited).toBe(0);
    expect(await leftovers(first)).toEqual([]);
    expect(await portIsFree(first.port)).toBe(true);
    expect(lockExists(stateDir)).toBe(false);

    const again = track(await startDev({ stateDir, devVars, env: { REDIS_URL } }));
    const usage = await fetch(`${again.base}/v1/usage?group_by=model`, { headers: auth(apiKey) });
    const body = (await usage.json()) as any;
    expect(body.totals.requests).toBe(6);
    const deepseek = body.data.find((r: any) => r.model === "deepseek-chat");
    expect(deepseek.requests).toBe(4);
    expect(deepseek.cost_usd).toBeCloseTo((4 * 11 * 2 + 4 * 7 * 4) / 1_000_000, 12); // RELAY_MODEL_PRICES
    // The queue of this database is one key, stable across restarts, and empty once drained.
    const redis = new IORedis(REDIS_URL);
    try {
      const key = outboxKeys(
        loadConfig({ RELAY_DATABASE_ID: `pglite:${join(stateDir, "pgdata")}` } as Env),
      ).queue;
      expect(await redis.llen(key)).toBe(0);
    } finally {
      redis.disconnect();
    }

    // A read that drains queued usage while its own request holds the embedded database's one
    // session (a key seen for the first time is looked up there): the drain must use that session,
    // not wait for a second one.
    const issued = await fetch(`${again.base}/v1/keys`, {
      method: "POST",
      headers: auth(apiKey),
      body: JSON.stringify({ name: "reader" }),
    });
    expect(issued.status, await issued.clone().text()).toBe(201);
    const reader = ((await issued.json()) as any).apiKey as string;
    const queued = await fetch(`${again.base}/v1/chat/completions`, {
      method: "POST",
      headers: auth(apiKey),
      body: JSON.stringify({ messages: [{ role: "user", content: "queued" }] }),
    });
    expect(queued.status).toBe(200);
    await queued.text();
    await new Promise((r) => setTimeout(r, 300));
    const read = await fetch(`${again.base}/v1/usage`, { headers: auth(reader) });
    expect(read.status, await read.clone().text()).toBe(200);
    expect(((await read.json()) as any).totals.requests).toBe(7);

    // The README's agent quick start: the SDK example, against a credential pointing at the mock.
    const put = await fetch(`${again.base}/v1/credentials/mock`, {
      method: "PUT",
      headers: auth(apiKey),
      body: JSON.stringify({ apiKey: "sk-test-openai", baseUrl: `${mock.url}/openai/v1` }),
    });
    expect(put.status).toBe(201);
    const example = await runCommand("npx", ["tsx", "examples/weather-agent.ts"], {
      RELAY_URL: again.base,
      RELAY_API_KEY: apiKey,
      RELAY_MODEL: "mock:weather",
    });
    expect(example.code, example.stderr).toBe(0);
    expect(example.stdout).toContain('"type":"tool_call","id":"call_weather_1","name":"get_weather"');
    expect(example.stdout).toContain('"type":"tool_call","id":"call_time_2","name":"get_time"');
    expect(example.stdout).toContain("It is sunny in Paris.");
    expect(example.stdout).toMatch(/run [0-9a-f-]{36}: \d+ input and \d+ output tokens/);

    // The terminal closes: SIGHUP to its foreground process group.
    process.kill(-again.pgid, "SIGHUP");
    await again.exited;
    expect(await leftovers(again)).toEqual([]);
  });

  it("bootstrap uses the running stack's Postgres, and refuses a DATABASE_URL that names another", async () => {
    const database: TestDatabase = await createTestDatabase({ migrate: false });
    const stateDir = tempDir();
    const devVars = join(stateDir, ".dev.vars");
    // A local model too: stopping the stack must stop it as well.
    const fake = `exec "${process.execPath}" "${join(ROOT, "tests/fixtures/fake-llama-server.mjs")}"`;
    writeFileSync(
      devVars,
      exampleDevVars([
        `RELAY_MODEL_MAP=${JSON.stringify({ fake: { cmd: `FAKE_LOAD_MS=200 ${fake}`, ctx_size: 2048 } })}`,
        `RELAY_MODEL_PORT_BASE=${await freePort()}`,
      ]),
    );
    try {
      const stack = track(await startDev({ stateDir, devVars, env: { DATABASE_URL: database.url } }));
      expect(stack.output()).toContain(`Postgres  127.0.0.1:5432/${database.name}`);

      // Another terminal, without DATABASE_URL: the key lands where the Worker looks.
      const boot = await runScript("bootstrap", ["--json"], {
        RELAY_STATE_DIR: stateDir,
        RELAY_DEV_VARS: devVars,
      });
      expect(boot.code, boot.stderr).toBe(0);
      expect(boot.stderr).toContain(`127.0.0.1:5432/${database.name}, via the running npm run dev`);
      const { apiKey } = JSON.parse(boot.stdout);
      expect((await fetch(`${stack.base}/v1/keys`, { headers: auth(apiKey) })).status).toBe(200);

      const other = await runScript("bootstrap", ["--json"], {
        RELAY_STATE_DIR: stateDir,
        RELAY_DEV_VARS: devVars,
        DATABASE_URL: "postgres://postgres@127.0.0.1:5432/somewhere_else",
      });
      expect(other.code).not.toBe(0);
      expect(other.stdout).not.toContain("relay_live_");
      expect(other.stderr).toContain(`serves 127.0.0.1:5432/${database.name}`);
      expect(other.stderr).toContain("127.0.0.1:5432/somewhere_else");

      const admin = parseEnv(readFileSync(devVars, "utf8")).RELAY_ADMIN_TOKEN as string;
      const load = await fetch(`${stack.base}/admin/local-models/fake/load`, {
        method: "POST",
        headers: { authorization: `Bearer ${admin}` },
      });
      expect(load.status, await load.text()).toBe(200);
      expect(stackProcesses(stateDir).some((p) => p.includes("fake-llama-server"))).toBe(true);

      // Ctrl-C in the terminal: SIGINT to the foreground process group (which npm and tsx pass on
      // again: one Ctrl-C, not two).
      process.kill(-stack.pgid, "SIGINT");
      await stack.exited;
      expect(await leftovers(stack)).toEqual([]);
      expect(await portIsFree(stack.port)).toBe(true);
    } finally {
      await database.drop();
    }
  });

  // However the runner ends, nothing it started may outlive it: the children watch it themselves.
  for (const [how, signal] of [
    ["is killed hard (SIGKILL)", "SIGKILL"],
    ["crashes (SIGABRT)", "SIGABRT"],
  ] as const) {
    it(`leaves nothing behind when the runner ${how}`, async () => {
      const stateDir = tempDir();
      const devVars = join(stateDir, ".dev.vars");
      writeFileSync(devVars, exampleDevVars([]));
      const stack = track(await startDev({ stateDir, devVars }));
      const sidecarPort = Number(new URL(stack.sidecarUrl()).port);
      expect(stackProcesses(stateDir).some((p) => p.includes("workerd"))).toBe(true);
      process.kill(stack.runnerPid(), signal);
      expect(await leftovers(stack)).toEqual([]);
      expect(await portIsFree(stack.port)).toBe(true);
      expect(await portIsFree(sidecarPort)).toBe(true);
      // The stale lock of the dead runner does not block the next start.
      const next = track(await startDev({ stateDir, devVars }));
      expect((await fetch(`${next.base}/health`)).status).toBe(200);
      process.kill(-next.pgid, "SIGINT");
      await next.exited;
      expect(await leftovers(next)).toEqual([]);
    });
  }

  it("says in one line that RELAY_PORT is busy", async () => {
    const stateDir = tempDir();
    const devVars = join(stateDir, ".dev.vars");
    writeFileSync(devVars, exampleDevVars([]));
    const { createServer } = await import("node:net");
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, "127.0.0.1", () => r()));
    const port = (holder.address() as { port: number }).port;
    try {
      const stack = track(
        await startDev({ stateDir, devVars, env: { RELAY_PORT: String(port) }, expectExit: true }),
      );
      expect(await stack.exited).toBe(1);
      expect(stack.output()).toContain(`npm run dev: port ${port} is busy`);
      expect(stack.output()).not.toMatch(/\n\s+at /); // no stack trace
      await sleep(100);
      expect(await leftovers(stack)).toEqual([]);
    } finally {
      holder.close();
    }
  });
});
