import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import IORedis from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signInternalJwt } from "../../common/internal-jwt";
import { freePort, REDIS_URL, type RunningSidecar, randomHex, startTestSidecar } from "../helpers/stack";

// The pending-tool broker, served by real sidecar processes: two replicas on the machine's Redis
// (plus one that gets killed), one in memory, one whose Redis is away, and one behind a TCP proxy
// that the test cuts and restores. Keys live under a prefix of this run's own, removed at the end.

const SECRET = "internal-secret-for-the-broker-tests";
const OPERATOR = "operator-token-for-the-broker-tests";
const PREFIX = `relay:broker:test:${randomHex(6)}:`;
const TENANT = "tenant-a";
const OTHER = "tenant-b";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const runId = () => `run_${randomHex(8)}`;

interface Client {
  url: string;
  call(
    method: string,
    path: string,
    body?: unknown,
    init?: { token?: string | null; signal?: AbortSignal },
  ): Promise<Response>;
  register(run: string, tenant?: string): Promise<Response>;
  calls(run: string, ids: string[], tenant?: string): Promise<Response>;
  post(run: string, id: string, output: unknown, tenant?: string): Promise<Response>;
  wait(
    run: string,
    id: string,
    waitMs: number,
    opts?: { tenant?: string; signal?: AbortSignal },
  ): Promise<Response>;
  end(run: string, status: string, tenant?: string): Promise<Response>;
  waiting(): Promise<number>;
}

/** Speaks to a sidecar as the Worker does: a fresh internal JWT on every call. */
function client(url: string): Client {
  const call: Client["call"] = async (method, path, body, init = {}) => {
    const token = init.token === undefined ? await signInternalJwt(SECRET) : init.token;
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (token !== null) headers.authorization = `Bearer ${token}`;
    return fetch(`${url}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: init.signal,
    });
  };
  const result = (run: string, id: string) => `/broker/runs/${run}/calls/${encodeURIComponent(id)}/result`;
  return {
    url,
    call,
    register: (run, tenant = TENANT) => call("PUT", `/broker/runs/${run}`, { tenantId: tenant }),
    calls: (run, ids, tenant = TENANT) =>
      call("POST", `/broker/runs/${run}/calls`, { tenantId: tenant, ids }),
    post: (run, id, output, tenant = TENANT) => call("POST", result(run, id), { tenantId: tenant, output }),
    wait: (run, id, waitMs, opts = {}) =>
      call("GET", `${result(run, id)}?tenantId=${opts.tenant ?? TENANT}&waitMs=${waitMs}`, undefined, {
        signal: opts.signal,
      }),
    end: (run, status, tenant = TENANT) =>
      call("POST", `/broker/runs/${run}/end`, { tenantId: tenant, status }),
    waiting: async () =>
      ((await (await call("GET", "/readyz")).json()) as { broker: { waiting: number } }).broker.waiting,
  };
}

async function errorCode(res: Response): Promise<string> {
  return ((await res.json()) as { error: { code: string } }).error.code;
}

/** A run with its calls registered, as the agent loop sets it up before waiting. */
async function runWithCalls(c: Client, ids: string[]): Promise<string> {
  const run = runId();
  expect((await c.register(run)).status).toBe(200);
  expect((await c.calls(run, ids)).status).toBe(200);
  return run;
}

async function until(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(25);
  }
}

/**
 * What the Worker does: long-poll until the deadline, moving to the next replica when one breaks.
 * Returns the output and how many polls it took.
 */
async function pollAcross(
  replicas: Client[],
  run: string,
  id: string,
  deadlineMs: number,
): Promise<{ output: unknown; polls: number; broken: number }> {
  const deadline = Date.now() + deadlineMs;
  let polls = 0;
  let broken = 0;
  while (Date.now() < deadline) {
    const replica = replicas[broken % replicas.length] as Client;
    polls++;
    let res: Response;
    try {
      res = await replica.wait(run, id, Math.min(25_000, deadline - Date.now()));
    } catch {
      broken++;
      await sleep(50);
      continue;
    }
    if (res.status === 200)
      return { output: ((await res.json()) as { output: unknown }).output, polls, broken };
    if (res.status !== 204) throw new Error(`unexpected ${res.status}: ${await res.text()}`);
  }
  throw new Error("deadline passed");
}

const sidecars: RunningSidecar[] = [];
async function sidecar(env: Record<string, string>): Promise<RunningSidecar> {
  const s = await startTestSidecar({
    RELAY_INTERNAL_SECRET: SECRET,
    RELAY_OPERATOR_TOKEN: OPERATOR,
    RELAY_BROKER_KEY_PREFIX: PREFIX,
    ...env,
  });
  sidecars.push(s);
  return s;
}

let a: Client;
let b: Client;
let memory: Client;
let redis: IORedis;

beforeAll(async () => {
  redis = new IORedis(REDIS_URL);
  const [ra, rb, rm] = await Promise.all([
    sidecar({ REDIS_URL }),
    sidecar({ REDIS_URL }),
    // Empty, so a REDIS_URL in the test's own environment cannot turn it into a Redis broker.
    sidecar({ REDIS_URL: "" }),
  ]);
  a = client(ra.url);
  b = client(rb.url);
  memory = client(rm.url);
});

afterAll(async () => {
  await Promise.all(sidecars.map((s) => s.stop()));
  const keys = await redis.keys(`${PREFIX}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

// The same semantics in both backends.
describe.each([
  ["redis", () => a],
  ["memory", () => memory],
])("broker semantics (%s)", (_mode, get) => {
  it("wakes a waiter when the result arrives", async () => {
    const c = get();
    const run = await runWithCalls(c, ["call_1"]);
    const started = Date.now();
    const waiting = c.wait(run, "call_1", 20_000);
    await sleep(200);
    expect((await c.post(run, "call_1", { temperature: 21, city: "Paris" })).status).toBe(200);
    const res = await waiting;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ output: { temperature: 21, city: "Paris" } });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("keeps a result posted before anyone waits, and a second read gets it again", async () => {
    const c = get();
    // Providers pick the ids; any printable ASCII goes, URL-encoded in the path.
    const odd = "call/x+y=1%{z}";
    const run = await runWithCalls(c, ["toolu_01", odd]);
    expect((await c.post(run, "toolu_01", null)).status).toBe(200);
    expect((await c.post(run, odd, "plain text")).status).toBe(200);
    for (let i = 0; i < 2; i++) {
      const res = await c.wait(run, "toolu_01", 20_000);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ output: null });
    }
    expect(await (await c.wait(run, odd, 0)).json()).toEqual({ output: "plain text" });
  });

  it("answers 204 when the wait passes without a result", async () => {
    const c = get();
    const run = await runWithCalls(c, ["c1"]);
    const started = Date.now();
    const res = await c.wait(run, "c1", 400);
    const took = Date.now() - started;
    expect(res.status).toBe(204);
    expect(took).toBeGreaterThanOrEqual(390);
    expect(took).toBeLessThan(1400);
  });

  it("refuses a second result, an unknown call and another tenant's run", async () => {
    const c = get();
    const run = await runWithCalls(c, ["c1"]);
    expect((await c.post(run, "c1", { n: 1 })).status).toBe(200);
    const second = await c.post(run, "c1", { n: 2 });
    expect(second.status).toBe(409);
    expect(await errorCode(second)).toBe("tool_result_already_submitted");
    expect(await (await c.wait(run, "c1", 0)).json()).toEqual({ output: { n: 1 } });

    const unknown = await c.post(run, "never-issued", 1);
    expect(unknown.status).toBe(404);
    expect(await errorCode(unknown)).toBe("tool_call_not_found");
    const unknownWait = await c.wait(run, "never-issued", 1000);
    expect(unknownWait.status).toBe(404);
    expect(await errorCode(unknownWait)).toBe("tool_call_not_found");

    // Another tenant sees no such run, whatever it tries, and cannot take the id over.
    const attempts = [
      await c.post(run, "c1", 1, OTHER),
      await c.wait(run, "c1", 0, { tenant: OTHER }),
      await c.calls(run, ["x"], OTHER),
      await c.register(run, OTHER),
      await c.end(run, "canceled", OTHER),
    ];
    for (const res of attempts) {
      expect(res.status).toBe(404);
      expect(await errorCode(res)).toBe("run_not_found");
    }
    const missing = await c.post(runId(), "c1", 1);
    expect(missing.status).toBe(404);
    expect(await errorCode(missing)).toBe("run_not_found");
    // Still the first tenant's, still running.
    expect(await (await c.register(run)).json()).toEqual({
      run: { id: run, tenantId: TENANT, status: "running" },
    });
  });

  it("refuses results and calls once the run has ended; the first end's status stays", async () => {
    const c = get();
    const run = await runWithCalls(c, ["done", "late"]);
    expect((await c.post(run, "done", "ok")).status).toBe(200);
    const ended = await c.end(run, "completed");
    expect(await ended.json()).toEqual({ run: { id: run, tenantId: TENANT, status: "completed" } });
    const late = await c.post(run, "late", 1);
    expect(late.status).toBe(409);
    expect(await errorCode(late)).toBe("run_not_waiting");
    expect(await errorCode(await c.calls(run, ["more"]))).toBe("run_not_waiting");
    const waitLate = await c.wait(run, "late", 5000);
    expect(waitLate.status).toBe(409);
    expect(await errorCode(waitLate)).toBe("run_not_waiting");
    // A result that arrived before the end is still readable (a retried poll gets it).
    expect(await (await c.wait(run, "done", 0)).json()).toEqual({ output: "ok" });
    expect(await (await c.end(run, "canceled")).json()).toEqual({
      run: { id: run, tenantId: TENANT, status: "completed" },
    });
    expect(await (await c.register(run)).json()).toEqual({
      run: { id: run, tenantId: TENANT, status: "completed" },
    });
  });

  it("wakes a waiter with 409 when the run ends while it waits", async () => {
    const c = get();
    const run = await runWithCalls(c, ["c1"]);
    const started = Date.now();
    const waiting = c.wait(run, "c1", 30_000);
    await until(async () => (await c.waiting()) > 0);
    expect((await c.end(run, "canceled")).status).toBe(200);
    const res = await waiting;
    expect(res.status).toBe(409);
    expect(await errorCode(res)).toBe("run_not_waiting");
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("stores exactly one of concurrent posts of the same result", async () => {
    const c = get();
    const run = await runWithCalls(c, ["c1"]);
    const posts = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        (i % 2 === 0 || get() === memory ? c : b).post(run, "c1", { from: i }),
      ),
    );
    const statuses = posts.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(11);
    const winner = posts.findIndex((r) => r.status === 200);
    expect(await (await c.wait(run, "c1", 0)).json()).toEqual({ output: { from: winner } });
  });

  it("frees a wait whose client went away", async () => {
    const c = get();
    const run = await runWithCalls(c, ["c1"]);
    const controller = new AbortController();
    const waiting = c.wait(run, "c1", 30_000, { signal: controller.signal }).catch((err: Error) => err);
    await until(async () => (await c.waiting()) === 1);
    controller.abort();
    expect(await waiting).toBeInstanceOf(Error);
    await until(async () => (await c.waiting()) === 0, 3000);
  });

  it("validates its input", async () => {
    const c = get();
    const run = await runWithCalls(c, ["c1"]);
    const missingOutput = await c.call("POST", `/broker/runs/${run}/calls/c1/result`, { tenantId: TENANT });
    expect(missingOutput.status).toBe(400);
    expect(((await missingOutput.json()) as { error: { param: string } }).error.param).toBe("output");
    expect((await c.wait(run, "c1", 60_001)).status).toBe(400);
    expect((await c.register("bad{id}")).status).toBe(400);
    expect((await c.calls(run, [])).status).toBe(400);
    expect((await c.end(run, "running")).status).toBe(400);
    const notJson = await fetch(`${c.url}/broker/runs/${run}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${await signInternalJwt(SECRET)}` },
      body: "{nope",
    });
    expect(await errorCode(notJson)).toBe("invalid_json");
  });

  it("requires the internal JWT or the operator token", async () => {
    const c = get();
    const run = runId();
    const none = await c.call("PUT", `/broker/runs/${run}`, { tenantId: TENANT }, { token: null });
    expect(none.status).toBe(401);
    expect(await errorCode(none)).toBe("invalid_internal_token");
    const forged = await c.call(
      "PUT",
      `/broker/runs/${run}`,
      { tenantId: TENANT },
      { token: "x".repeat(40) },
    );
    expect(forged.status).toBe(401);
    const wrongKey = await signInternalJwt("another-secret-of-enough-length");
    expect(
      (
        await c.call("GET", `/broker/runs/${run}/calls/c/result?tenantId=${TENANT}`, undefined, {
          token: wrongKey,
        })
      ).status,
    ).toBe(401);
    expect(
      (await c.call("PUT", `/broker/runs/${run}`, { tenantId: TENANT }, { token: OPERATOR })).status,
    ).toBe(200);
  });
});

describe("broker on Redis across replicas", () => {
  it("wakes a waiter on one replica with a result posted through another", async () => {
    const run = await runWithCalls(a, ["call_a"]);
    const waiting = a.wait(run, "call_a", 20_000);
    await until(async () => (await a.waiting()) > 0);
    expect((await b.post(run, "call_a", { via: "b" })).status).toBe(200);
    const res = await waiting;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ output: { via: "b" } });
  });

  it("wakes every waiter of a call, on every replica, with one result", async () => {
    const run = await runWithCalls(b, ["c1"]);
    const waits = [a, b, a, b].map((c) => c.wait(run, "c1", 20_000));
    await until(async () => (await a.waiting()) >= 2 && (await b.waiting()) >= 2);
    expect((await a.post(run, "c1", [1, 2, 3])).status).toBe(200);
    for (const res of await Promise.all(waits)) {
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ output: [1, 2, 3] });
    }
  });

  it("loses nothing when the replica holding the wait is killed", async () => {
    const victim = await sidecar({ REDIS_URL });
    const k = client(victim.url);
    const run = await runWithCalls(b, ["c1"]);
    const polling = pollAcross([k, a], run, "c1", 15_000);
    await until(async () => (await k.waiting()) === 1);
    process.kill(victim.process.child.pid as number, "SIGKILL");
    await victim.process.exited;
    // Posted while the client is between replicas.
    expect((await b.post(run, "c1", { survived: true })).status).toBe(200);
    const got = await polling;
    expect(got.output).toEqual({ survived: true });
    expect(got.broken).toBeGreaterThanOrEqual(1);
  });

  it("caps its waits and body size, and hands its waits back when it stops", async () => {
    const limited = await sidecar({
      REDIS_URL,
      RELAY_BROKER_MAX_WAITERS: "1",
      RELAY_BROKER_MAX_BODY_BYTES: "2048",
    });
    const l = client(limited.url);
    const run = await runWithCalls(l, ["c1", "c2"]);
    const held = l.wait(run, "c1", 30_000);
    await until(async () => (await l.waiting()) === 1);
    const busy = await l.wait(run, "c2", 30_000);
    expect(busy.status).toBe(503);
    expect(busy.headers.get("retry-after")).toBe("1");
    expect(await errorCode(busy)).toBe("broker_busy");
    const big = await l.post(run, "c2", "x".repeat(4096));
    expect(big.status).toBe(413);
    expect(await errorCode(big)).toBe("request_too_large");

    // SIGTERM: the wait in progress answers 204 now (its Worker re-polls another replica), well
    // inside the shutdown grace period.
    const started = Date.now();
    await limited.stop();
    expect((await held).status).toBe(204);
    expect(Date.now() - started).toBeLessThan(3000);
    expect((await b.post(run, "c1", "after")).status).toBe(200);
    expect(await (await a.wait(run, "c1", 1000)).json()).toEqual({ output: "after" });
  });

  it("keeps every key of a run under the prefix, with TTLs that shrink when the run ends", async () => {
    const run = await runWithCalls(a, ["c1", "c2"]);
    expect((await b.post(run, "c1", { ok: 1 })).status).toBe(200);
    const keys = (await redis.keys(`${PREFIX}{${run}}:*`)).sort();
    expect(keys).toEqual([`${PREFIX}{${run}}:calls`, `${PREFIX}{${run}}:run`, `${PREFIX}{${run}}:wake:c1`]);
    for (const key of keys) {
      const ttl = await redis.pttl(key);
      expect(ttl).toBeGreaterThan(23 * 3600_000);
      expect(ttl).toBeLessThanOrEqual(24 * 3600_000);
    }
    expect(await redis.hgetall(`${PREFIX}{${run}}:calls`)).toEqual({ c1: '{"ok":1}', c2: "" });
    await a.end(run, "failed");
    const ended = (await redis.keys(`${PREFIX}{${run}}:*`)).sort();
    expect(ended).toHaveLength(4); // the pending call got its wake token
    for (const key of ended) expect(await redis.pttl(key)).toBeLessThanOrEqual(3600_000);
    expect(await redis.hget(`${PREFIX}{${run}}:run`, "status")).toBe("failed");
  });

  it("measures wake-up latency over 50 concurrent waits (result POSTed → long-poll answers)", async () => {
    const n = 50;
    const pct = (sorted: number[], p: number) =>
      sorted[Math.min(n - 1, Math.ceil((p / 100) * n) - 1)] as number;
    // One post at a time (each wake alone), then all at once (the waiters' replica answers 50 together).
    for (const mode of ["one at a time", "all at once"] as const) {
      const runs = await Promise.all(Array.from({ length: n }, () => runWithCalls(a, ["c1"])));
      const answered: number[] = new Array(n).fill(0);
      const waits = runs.map((run, i) =>
        a.wait(run, "c1", 30_000).then(async (res) => {
          answered[i] = performance.now();
          return res.json();
        }),
      );
      await until(async () => (await a.waiting()) === n, 10_000);
      const posted: number[] = new Array(n).fill(0);
      const acked: number[] = new Array(n).fill(0);
      const post = async (i: number) => {
        posted[i] = performance.now();
        expect((await b.post(runs[i] as string, "c1", { i })).status).toBe(200);
        acked[i] = performance.now();
      };
      if (mode === "all at once") await Promise.all(runs.map((_, i) => post(i)));
      else for (let i = 0; i < n; i++) await post(i).then(() => waits[i]);
      const outputs = await Promise.all(waits);
      expect(outputs).toEqual(runs.map((_, i) => ({ output: { i } })));
      const latencies = answered.map((t, i) => t - (posted[i] as number)).sort((x, y) => x - y);
      // How much of it is the post itself: its own round trip, against which the wake is measured.
      const postRtt = acked.map((t, i) => t - (posted[i] as number)).sort((x, y) => x - y);
      console.log(
        `broker wake-up latency, ${n} concurrent waits on replica A, results posted through B ${mode}: ` +
          `p50 ${pct(latencies, 50).toFixed(1)} ms, p99 ${pct(latencies, 99).toFixed(1)} ms ` +
          `(the post's own round trip: p50 ${pct(postRtt, 50).toFixed(1)} ms, p99 ${pct(postRtt, 99).toFixed(1)} ms)`,
      );
      expect(pct(latencies, 99)).toBeLessThan(3000);
    }
  });
});

/** A TCP proxy in front of Redis that the test can cut (as if Redis went away) and restore. */
class Cuttable {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  constructor(
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}
  async open(): Promise<void> {
    const server = createServer((socket) => {
      const upstream = tcpConnect(this.target.port, this.target.host);
      for (const s of [socket, upstream]) {
        this.sockets.add(s);
        s.on("error", () => {});
        s.on("close", () => this.sockets.delete(s));
      }
      socket.pipe(upstream).pipe(socket);
    });
    await new Promise<void>((resolve) => server.listen(this.port, "127.0.0.1", resolve));
    this.server = server;
  }
  async cut(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = null;
  }
}

describe("broker when Redis is away", () => {
  it("answers 503 broker_unavailable fast when Redis cannot be reached", async () => {
    const closed = await freePort();
    const down = client((await sidecar({ REDIS_URL: `redis://127.0.0.1:${closed}` })).url);
    for (const attempt of [
      () => down.register(runId()),
      () => down.wait(runId(), "c1", 20_000),
      () => down.post(runId(), "c1", 1),
    ]) {
      const started = Date.now();
      const res = await attempt();
      expect(res.status).toBe(503);
      expect(await errorCode(res)).toBe("broker_unavailable");
      expect(Date.now() - started).toBeLessThan(2000);
    }
  });

  it("works again, without a restart, when Redis comes back", async () => {
    const target = new URL(REDIS_URL);
    const proxy = new Cuttable(await freePort(), {
      host: target.hostname,
      port: Number(target.port || 6379),
    });
    await proxy.open();
    const c = client((await sidecar({ REDIS_URL: `redis://127.0.0.1:${proxy.port}` })).url);
    const run = await runWithCalls(c, ["c1"]);

    // Redis goes away in the middle of a wait: the waiter is told, not left hanging.
    const waiting = c.wait(run, "c1", 20_000);
    await until(async () => (await c.waiting()) === 1);
    const cutAt = Date.now();
    await proxy.cut();
    const broken = await waiting;
    expect(broken.status).toBe(503);
    expect(await errorCode(broken)).toBe("broker_unavailable");
    const refused = await c.post(run, "c1", 1);
    expect(refused.status).toBe(503);
    expect(Date.now() - cutAt).toBeLessThan(3000);

    await proxy.open();
    // ioredis reconnects within its back-off (at most 2 s here).
    await until(async () => (await c.post(run, "c1", { back: true })).status === 200, 8000);
    expect(await (await b.wait(run, "c1", 0)).json()).toEqual({ output: { back: true } });
    await proxy.cut();
  });
});
