import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { signInternalJwt } from "../../common/internal-jwt";
import { freePort } from "../../scripts/lib/processes";
import { loadSidecarConfig } from "../../sidecar/src/config";
import { startSidecar } from "../../sidecar/src/main";
import { ROOT } from "../helpers/stack";

const FAKE = resolve(ROOT, "tests/fixtures/fake-llama-server.mjs");
const OPERATOR = "operator-token-for-the-tests";
const SECRET = "internal-secret-for-the-tests-0123";
const stateDir = mkdtempSync(join(tmpdir(), "relay-lifecycle-"));

// Every model this file starts carries this mark, so the leftover check counts only its own (other
// test files run fake models at the same time).
const MARK = `RELAY_LIFECYCLE_TEST=${process.pid}`;
const cmd = (env: Record<string, string | number> = {}) =>
  `${MARK} ${Object.entries(env)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ")} exec "${process.execPath}" "${FAKE}"`;

type Running = Awaited<ReturnType<typeof startSidecar>>;
const running: Running[] = [];

async function sidecar(models: Record<string, object>, settings: Record<string, string> = {}) {
  // A port the system says is free, not a fixed range: other test files start servers at the same
  // time, on ports the system hands out (a model's health check answered by one of them is not ours).
  const portBase = await freePort();
  const config = loadSidecarConfig({
    RELAY_SIDECAR_PORT: "0",
    RELAY_MODEL_LIFECYCLE_ENABLED: "true",
    RELAY_MODEL_MAP: JSON.stringify(models),
    RELAY_MODEL_PORT_BASE: String(portBase),
    RELAY_OPERATOR_TOKEN: OPERATOR,
    RELAY_INTERNAL_SECRET: SECRET,
    RELAY_LIFECYCLE_STATE_FILE: join(stateDir, `state-${portBase}.json`),
    RELAY_LIFECYCLE_SHUTDOWN_CONFIRM_TIMEOUT_MS: "2000",
    ...settings,
  });
  const s = await startSidecar(config);
  running.push(s);
  const base = `http://127.0.0.1:${s.port}`;
  const call = (path: string, init: RequestInit = {}) =>
    fetch(`${base}${path}`, {
      ...init,
      headers: {
        authorization: `Bearer ${OPERATOR}`,
        "content-type": "application/json",
        ...(init.headers ?? {}),
      },
    });
  const chat = (model: string, headers: Record<string, string> = {}, extra: object = {}) =>
    call("/v1/chat/completions", {
      method: "POST",
      headers,
      body: JSON.stringify({ model, messages: [{ role: "user", content: "ping" }], ...extra }),
    });
  const status = async () => ((await (await call("/relay/status")).json()) as { models: any[] }).models;
  return { s, base, call, chat, status, manager: s.lifecycle as NonNullable<Running["lifecycle"]> };
}

const pidOf = async (res: Response) => Number(/pong from (\d+)/.exec(JSON.stringify(await res.json()))?.[1]);

function fakeProcesses(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      if (!cmdline.includes("fake-llama-server") || cmdline.includes("vitest")) continue;
      if (readFileSync(`/proc/${pid}/environ`, "latin1").includes(`${MARK}\0`)) out.push(pid);
    } catch {}
  }
  return out;
}

afterAll(async () => {
  for (const s of running) await s.close();
  rmSync(stateDir, { recursive: true, force: true });
  // Checked in the process table, not in our bookkeeping.
  expect(fakeProcesses()).toEqual([]);
});

describe("model lifecycle", () => {
  it("starts a model on first use, once for concurrent first requests", async () => {
    const { chat, status } = await sidecar({ alpha: { cmd: cmd({ FAKE_LOAD_MS: 400 }), ctx_size: 4096 } });
    const responses = await Promise.all([1, 2, 3, 4].map(() => chat("alpha")));
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    const pids = new Set(await Promise.all(responses.map(pidOf)));
    expect(pids.size).toBe(1);
    const [model] = await status();
    expect(model).toMatchObject({ name: "alpha", state: "ready", inflight: 0 });
    expect(pids.has(model.pid)).toBe(true); // the start script execs the server: one process, one pid
  });

  it("accepts the local: prefix and lists models with their settings", async () => {
    const { chat, call } = await sidecar({
      beta: { cmd: cmd(), ctx_size: 8192, multimodal: true, thinking_levels: ["on", "off"] },
    });
    expect((await chat("local:beta")).status).toBe(200);
    const models = (await (await call("/v1/models")).json()) as { data: any[] };
    expect(models.data).toEqual([
      expect.objectContaining({
        id: "beta",
        ctx_size: 8192,
        multimodal: true,
        thinking_levels: ["on", "off"],
        state: "ready",
      }),
    ]);
  });

  it("keeps at most RELAY_SWITCH_MAX_WARM_MODELS warm, evicting the least recently used idle model", async () => {
    const { chat, status } = await sidecar(
      { a: { cmd: cmd(), ctx_size: 1 }, b: { cmd: cmd(), ctx_size: 1 }, c: { cmd: cmd(), ctx_size: 1 } },
      { RELAY_SWITCH_MAX_WARM_MODELS: "2" },
    );
    await chat("a");
    await chat("b");
    const aPid = (await status()).find((m) => m.name === "a").pid;
    await chat("b");
    await chat("c");
    const states = Object.fromEntries((await status()).map((m) => [m.name, m.state]));
    expect(states).toEqual({ a: "stopped", b: "ready", c: "ready" });
    expect(() => process.kill(aPid, 0)).toThrow(); // really gone, not just forgotten
  });

  it("does not stop a model under its requests", async () => {
    const { chat, status } = await sidecar(
      { slow: { cmd: cmd({ FAKE_DELAY_MS: 800 }), ctx_size: 1 }, other: { cmd: cmd(), ctx_size: 1 } },
      { RELAY_SWITCH_MAX_WARM_MODELS: "1" },
    );
    await chat("slow");
    const inFlight = chat("slow");
    await new Promise((r) => setTimeout(r, 100));
    const switched = chat("other");
    expect((await inFlight).status).toBe(200); // finished before being stopped
    expect((await switched).status).toBe(200);
    const states = Object.fromEntries((await status()).map((m) => [m.name, m.state]));
    expect(states).toEqual({ slow: "stopped", other: "ready" });
  });

  it("unloads idle models, the most recent one included", async () => {
    const { chat, status } = await sidecar(
      { idle: { cmd: cmd(), ctx_size: 1 } },
      { RELAY_MODEL_IDLE_SHUTDOWN_MS: "300" },
    );
    await chat("idle");
    let state = "ready";
    for (let i = 0; i < 40 && state !== "stopped"; i++) {
      await new Promise((r) => setTimeout(r, 100));
      state = (await status())[0].state;
    }
    expect(state).toBe("stopped");
  });

  it("restarts a model when the session changes, so no KV cache is shared", async () => {
    const { chat } = await sidecar({ s: { cmd: cmd(), ctx_size: 1 } });
    const first = await pidOf(await chat("s", { "session-id": "alice" }));
    expect(await pidOf(await chat("s", { "session-id": "alice" }))).toBe(first);
    const second = await pidOf(await chat("s", { "x-session-affinity": "bob" }));
    expect(second).not.toBe(first);
    expect(await pidOf(await chat("s"))).toBe(second); // no session: whatever is loaded
  });
});

describe("failures", () => {
  it("answers model_unknown for names not in the map", async () => {
    const { chat } = await sidecar({ known: { cmd: cmd(), ctx_size: 1 } });
    const res = await chat("nope");
    expect(res.status).toBe(404);
    expect(((await res.json()) as any).error.code).toBe("model_unknown");
  });

  it("times out a model that never becomes healthy and stops it", async () => {
    const { chat, status } = await sidecar(
      { hang: { cmd: cmd({ FAKE_MODE: "hang" }), ctx_size: 1 } },
      { RELAY_MODEL_START_TIMEOUT_MS: "600" },
    );
    const res = await chat("hang");
    expect(res.status).toBe(504);
    const body = (await res.json()) as any;
    expect(body.error.code).toBe("model_start_timeout");
    expect(body.error.message).toContain("loading model on port");
    expect((await status())[0].state).toBe("stopped");
  });

  it("reports a crash during load with the log tail, then trips the circuit breaker", async () => {
    const { chat, call } = await sidecar(
      { crash: { cmd: cmd({ FAKE_MODE: "crash-on-load" }), ctx_size: 1 } },
      {
        RELAY_LIFECYCLE_CIRCUIT_BREAKER_THRESHOLD: "2",
        RELAY_LIFECYCLE_CIRCUIT_BREAKER_COOLDOWN_MS: "60000",
      },
    );
    const first = await chat("crash");
    expect(first.status).toBe(503);
    const body = (await first.json()) as any;
    expect(body.error.code).toBe("model_start_failed");
    expect(body.error.message).toContain("GGML_ASSERT: out of memory");
    expect((await chat("crash")).status).toBe(503);
    const disabled = await chat("crash");
    expect(disabled.status).toBe(503);
    expect(((await disabled.json()) as any).error.code).toBe("model_start_disabled");
    expect(Number(disabled.headers.get("retry-after"))).toBeGreaterThan(0);
    const logs = await (await call("/relay/logs/crash")).text();
    expect(typeof logs).toBe("string");
    const metrics = await (await call("/relay/metrics")).text();
    expect(metrics).toContain('relay_model_start_failures_total{model="crash"} 2');
  });

  it("answers 429 queue_full with Retry-After when too many wait", async () => {
    const { chat } = await sidecar(
      { q: { cmd: cmd({ FAKE_DELAY_MS: 400 }), ctx_size: 1 } },
      { RELAY_SERIALIZE_REQUESTS: "true", RELAY_MODEL_QUEUE_LIMIT: "2" },
    );
    const warm = await chat("q");
    expect(warm.status, await warm.text()).toBe(200);
    const results = await Promise.all([1, 2, 3, 4].map(() => chat("q")));
    const statuses = results.map((r) => r.status).sort();
    // On failure, say what each request got: a refusal other than queue_full is a different bug.
    const seen = JSON.stringify(
      await Promise.all(results.map(async (r) => `${r.status} ${await r.clone().text()}`)),
    );
    expect(statuses.filter((s) => s === 429).length, seen).toBeGreaterThan(0);
    expect(statuses.filter((s) => s === 200).length, seen).toBeGreaterThan(0);
    const full = results.find((r) => r.status === 429);
    if (!full) throw new Error("no request was refused");
    expect(full.headers.get("retry-after")).toBe("1");
    expect(((await full.json()) as any).error.code).toBe("queue_full");
  });
});

describe("sidecar API", () => {
  it("needs the internal JWT or the operator token everywhere but /health", async () => {
    const { base } = await sidecar({ m: { cmd: cmd(), ctx_size: 1 } });
    expect((await fetch(`${base}/health`)).status).toBe(200);
    for (const path of ["/relay/status", "/v1/models", "/relay/metrics", "/readyz"]) {
      expect((await fetch(`${base}${path}`)).status, path).toBe(401);
      expect(
        (await fetch(`${base}${path}`, { headers: { authorization: "Bearer wrong-token-wrong-token" } }))
          .status,
      ).toBe(401);
    }
    const jwt = await signInternalJwt(SECRET);
    expect(
      (await fetch(`${base}/relay/status`, { headers: { authorization: `Bearer ${jwt}` } })).status,
    ).toBe(200);
    const forged = await signInternalJwt("another-secret-entirely-0000000");
    expect(
      (await fetch(`${base}/relay/status`, { headers: { authorization: `Bearer ${forged}` } })).status,
    ).toBe(401);
  });

  it("loads and unloads explicitly, and keeps a bounded request history", async () => {
    const { call, chat, status } = await sidecar({ m: { cmd: cmd(), ctx_size: 1 } });
    const loaded = await call("/relay/models/m/load", { method: "POST" });
    expect(((await loaded.json()) as any).state).toBe("ready");
    await chat("m");
    const history = (await (await call("/relay/requests")).json()) as any;
    expect(history.requests[0]).toMatchObject({ model: "m", status: 200, coldStart: false });
    expect(((await (await call("/relay/models/m/unload", { method: "POST" })).json()) as any).unloaded).toBe(
      true,
    );
    expect((await status())[0].state).toBe("stopped");
    expect((await call("/relay/models/zz/unload", { method: "POST" })).status).toBe(404);
  });

  it("streams a cold start: headers at once, heartbeats while loading, then the stream", async () => {
    const { chat } = await sidecar({ cold: { cmd: cmd({ FAKE_LOAD_MS: 2500 }), ctx_size: 1 } });
    const started = Date.now();
    const res = await chat("cold", {}, { stream: true });
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(2000);
    const text = await res.text();
    expect(text.startsWith(": loading model cold")).toBe(true);
    expect(text).toContain(": still loading");
    expect(text).toContain('"content":"pong ');
    expect(text.trim().endsWith("data: [DONE]")).toBe(true);
  });

  it("refuses an invalid model map at start, naming the entry", () => {
    expect(() =>
      loadSidecarConfig({
        RELAY_MODEL_MAP: JSON.stringify({ good: { cmd: "x", ctx_size: 1 }, bad: { cmd: "x" } }),
      }),
    ).toThrow(/entry 'bad': ctx_size/);
    expect(() => loadSidecarConfig({ RELAY_MODEL_MAP: "{not json" })).toThrow(/RELAY_MODEL_MAP/);
    expect(() => loadSidecarConfig({ RELAY_MODEL_LIFECYCLE_ENABLED: "true" })).toThrow(
      /RELAY_INTERNAL_SECRET/,
    );
  });
});

describe("shutdown and recovery", () => {
  it("drains in-flight requests on SIGTERM, then stops every model", async () => {
    const { startSidecarProcess } = await import("../../scripts/lib/scratch");
    const side = await startSidecarProcess({
      RELAY_MODEL_LIFECYCLE_ENABLED: "true",
      RELAY_MODEL_MAP: JSON.stringify({ slow: { cmd: cmd({ FAKE_DELAY_MS: 1500 }), ctx_size: 1 } }),
      RELAY_MODEL_PORT_BASE: String(await freePort()),
      RELAY_OPERATOR_TOKEN: OPERATOR,
      RELAY_LIFECYCLE_STATE_FILE: join(stateDir, "drain.json"),
    });
    const headers = { authorization: `Bearer ${OPERATOR}`, "content-type": "application/json" };
    await fetch(`${side.url}/relay/models/slow/load`, { method: "POST", headers });
    const status = (await (await fetch(`${side.url}/relay/status`, { headers })).json()) as { models: any[] };
    const modelPid = status.models[0].pid as number;
    const inFlight = fetch(`${side.url}/v1/chat/completions`, {
      method: "POST",
      headers,
      body: JSON.stringify({ model: "slow", messages: [{ role: "user", content: "x" }] }),
    });
    await new Promise((r) => setTimeout(r, 300));
    process.kill(side.process.child.pid as number, "SIGTERM");
    const res = await inFlight;
    expect(res.status).toBe(200); // finished during the drain
    expect(await side.process.exited).toBe(0);
    expect(() => process.kill(modelPid, 0)).toThrow(); // the model went with it
  });

  it("reclaims the ports of models a crashed run left behind", async () => {
    const { spawn } = await import("node:child_process");
    const orphanPort = await freePort();
    const orphan = spawn("sh", ["-c", cmd()], {
      env: { ...process.env, LLAMA_PORT: String(orphanPort) },
      detached: true,
      stdio: "ignore",
    });
    // The orphan is our own child here, so its death shows as an exit event (a zombie still answers kill 0).
    const orphanExited = new Promise<string | null>((r) => orphan.once("exit", (_code, signal) => r(signal)));
    for (let i = 0; i < 50; i++) {
      if ((await fetch(`http://127.0.0.1:${orphanPort}/health`).catch(() => null))?.ok) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const stateFile = join(stateDir, "crashed.json");
    (await import("node:fs")).writeFileSync(
      stateFile,
      JSON.stringify([{ pid: orphan.pid, port: orphanPort }]),
    );
    const { chat } = await sidecar(
      { m: { cmd: cmd({ FAKE_MODE: "ok" }), ctx_size: 1, port: orphanPort } },
      { RELAY_LIFECYCLE_STATE_FILE: stateFile },
    );
    expect(await orphanExited).toBe("SIGKILL");
    expect((await chat("m")).status).toBe(200);
  });
});
