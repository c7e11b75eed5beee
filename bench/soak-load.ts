// The soak's load generator, in its own process (pinned to the client core by bench/soak.ts):
// `node bench/soak-load.ts '<json job>'`. It keeps `streams` SSE streams open at all times and, beside
// them, JSON requests, agent runs and key churn at steady rates, checks every answer, and prints one
// JSON line per window (counts, errors, p99 per kind) and a last line with the totals.
// Latencies go to fixed histograms, so that the generator's own memory stays flat however long it runs.
import { Pool } from "undici";

export interface SoakJob {
  origin: string;
  apiKey: string;
  streams: number;
  durationMs: number;
  windowMs: number;
  /** Tokens per stream and the pause before each (the mock reads them from the model name). */
  tokens: number;
  delayMs: number;
  jsonPerSecond: number;
  runsPerSecond: number;
  /** One key created, used, revoked and refused this often. */
  churnEveryMs: number;
  /** GET /v1/usage this often: it moves queued usage into Postgres, as the cron does when deployed. */
  drainEveryMs: number;
}

export const KINDS = ["stream", "stream ttfb", "json", "run", "key churn", "usage read"] as const;
export type Kind = (typeof KINDS)[number];

export interface KindStats {
  ok: number;
  errors: number;
  p99Ms: number;
}

export interface WindowLine {
  /** "tail": the last, partial window, while the streams wind down (not a sample of the load). */
  type: "window" | "tail" | "total";
  /** Milliseconds since the load started, at the end of the window. */
  atMs: number;
  /** Streams open at the end of the window. */
  open: number;
  kinds: Record<Kind, KindStats>;
  errorSamples: string[];
}

/** Latencies in 1 ms buckets up to a minute; beyond that, the last bucket. */
class Histogram {
  private readonly buckets = new Uint32Array(60_001);
  ok = 0;
  errors = 0;
  add(ms: number): void {
    const i = Math.min(Math.max(Math.round(ms), 0), 60_000);
    this.buckets[i] = (this.buckets[i] as number) + 1;
    this.ok++;
  }
  p99(): number {
    const rank = Math.ceil(this.ok * 0.99);
    let seen = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i] as number;
      if (seen >= rank && rank > 0) return i;
    }
    return 0;
  }
  stats(): KindStats {
    return { ok: this.ok, errors: this.errors, p99Ms: this.p99() };
  }
  reset(): void {
    this.buckets.fill(0);
    this.ok = 0;
    this.errors = 0;
  }
}

const isMain = process.argv[1]?.endsWith("soak-load.ts");
if (isMain) await main(JSON.parse(process.argv[2] as string) as SoakJob);

async function main(job: SoakJob): Promise<void> {
  const streamPool = new Pool(job.origin, {
    connections: job.streams,
    pipelining: 1,
    keepAliveTimeout: 60_000,
  });
  const otherPool = new Pool(job.origin, { connections: 64, pipelining: 1, keepAliveTimeout: 60_000 });
  const windowed = Object.fromEntries(KINDS.map((k) => [k, new Histogram()])) as Record<Kind, Histogram>;
  const total = Object.fromEntries(KINDS.map((k) => [k, new Histogram()])) as Record<Kind, Histogram>;
  let errorSamples: string[] = [];
  const allErrorSamples: string[] = [];
  let open = 0;

  const ok = (kind: Kind, ms: number) => {
    windowed[kind].add(ms);
    total[kind].add(ms);
  };
  const fail = (kind: Kind, msg: string) => {
    windowed[kind].errors++;
    total[kind].errors++;
    const line = `${kind}: ${msg}`.slice(0, 300);
    if (errorSamples.length < 5) errorSamples.push(line);
    if (allErrorSamples.length < 20) allErrorSamples.push(line);
  };
  const auth = (key = job.apiKey, address?: string) => ({
    authorization: `Bearer ${key}`,
    "content-type": "application/json",
    ...(address ? { "cf-connecting-ip": address } : {}),
  });

  async function request(
    pool: Pool,
    path: string,
    init: { method?: string; body?: unknown; key?: string; address?: string } = {},
  ): Promise<{ status: number; text: string }> {
    const res = await pool.request({
      path,
      method: (init.method ?? (init.body === undefined ? "GET" : "POST")) as "GET",
      headers: auth(init.key, init.address),
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    return { status: res.statusCode, text: await res.body.text() };
  }

  const streamModel = `bench-${job.tokens}-${job.delayMs}`;
  // Half the streams on each pass-through route; the client sees every token plus, for OpenAI, the
  // role chunk, the finish chunk and [DONE]; for Anthropic, the two events before the tokens and three after.
  const streamShapes = [
    {
      path: "/v1/chat/completions",
      body: JSON.stringify({
        model: `openai:${streamModel}`,
        messages: [{ role: "user", content: "Soak." }],
        stream: true,
      }),
      events: job.tokens + 3,
    },
    {
      path: "/v1/messages",
      body: JSON.stringify({
        model: `anthropic:${streamModel}`,
        max_tokens: 1024,
        messages: [{ role: "user", content: "Soak." }],
        stream: true,
      }),
      events: job.tokens + 5,
    },
  ];

  async function oneStream(i: number): Promise<void> {
    const shape = streamShapes[i % 2] as (typeof streamShapes)[number];
    const start = performance.now();
    open++;
    try {
      const res = await streamPool.request({
        path: shape.path,
        method: "POST",
        headers: auth(),
        body: shape.body,
      });
      let events = 0;
      let prevNl = false;
      let first = true;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        if (first) {
          ok("stream ttfb", performance.now() - start);
          first = false;
        }
        for (let j = 0; j < chunk.length; j++) {
          const nl = chunk[j] === 10;
          if (nl && prevNl) {
            events++;
            prevNl = false;
          } else prevNl = nl;
        }
      }
      if (res.statusCode !== 200) return fail("stream", `status ${res.statusCode}`);
      if (events !== shape.events) return fail("stream", `expected ${shape.events} events, got ${events}`);
      ok("stream", performance.now() - start);
    } catch (err) {
      fail("stream", String(err));
    } finally {
      open--;
    }
  }

  const jsonShapes = [
    {
      path: "/v1/chat/completions",
      body: { model: "openai:bench", messages: [{ role: "user", content: "Soak." }] },
      check: (j: { choices?: unknown[] }) => Array.isArray(j.choices) && j.choices.length === 1,
    },
    {
      path: "/v1/messages",
      body: { model: "anthropic:bench", max_tokens: 64, messages: [{ role: "user", content: "Soak." }] },
      check: (j: { content?: unknown[] }) => Array.isArray(j.content) && j.content.length === 1,
    },
  ];
  let jsonCount = 0;
  async function oneJson(): Promise<void> {
    const shape = jsonShapes[jsonCount++ % 2] as (typeof jsonShapes)[number];
    const start = performance.now();
    try {
      const res = await request(otherPool, shape.path, { body: shape.body });
      if (res.status !== 200) return fail("json", `status ${res.status}: ${res.text.slice(0, 200)}`);
      if (!shape.check(JSON.parse(res.text)))
        return fail("json", `unexpected body ${res.text.slice(0, 200)}`);
      ok("json", performance.now() - start);
    } catch (err) {
      fail("json", String(err));
    }
  }

  // Runs alternate between the builtin calculator (answered in the Worker) and a function tool the
  // soak answers itself through the sidecar's broker, as the SDK would.
  const runTools = [
    [{ kind: "builtin", name: "calculator" }],
    [
      {
        kind: "function",
        name: "lookup",
        description: "Looks something up.",
        inputSchema: { type: "object", properties: { q: { type: "string" } } },
      },
    ],
  ];
  let runCount = 0;
  async function oneRun(): Promise<void> {
    const tools = runTools[runCount++ % 2];
    const start = performance.now();
    try {
      const res = await otherPool.request({
        path: "/v1/runs",
        method: "POST",
        headers: auth(),
        body: JSON.stringify({ model: "openai:bench-20-0", input: "Soak the run path.", tools }),
      });
      if (res.statusCode !== 200) {
        return fail("run", `status ${res.statusCode}: ${(await res.body.text()).slice(0, 200)}`);
      }
      const runId = res.headers["x-run-id"];
      let buffered = "";
      let end: { type: string; output?: string; code?: string; message?: string } | null = null;
      let toolResults = 0;
      const posts: Promise<void>[] = [];
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        buffered += chunk.toString();
        let cut = buffered.indexOf("\n\n");
        while (cut >= 0) {
          const frame = buffered.slice(0, cut);
          buffered = buffered.slice(cut + 2);
          cut = buffered.indexOf("\n\n");
          const data = frame.split("\n").find((l) => l.startsWith("data: "));
          if (!data) continue;
          const ev = JSON.parse(data.slice(6)) as { type: string; id?: string; name?: string };
          if (ev.type === "tool_result") toolResults++;
          if (ev.type === "tool_call" && ev.name === "lookup") {
            posts.push(
              request(otherPool, `/v1/runs/${runId}/tool-results/${ev.id}`, {
                body: { output: { found: "soak" } },
              }).then((r) => {
                if (r.status !== 200)
                  throw new Error(`tool result: status ${r.status}: ${r.text.slice(0, 200)}`);
              }),
            );
          }
          if (ev.type === "done" || ev.type === "error") end = ev;
        }
      }
      await Promise.all(posts);
      if (!end) return fail("run", "the run's stream ended without done or error");
      const ended = end as { type: string; output?: string; code?: string; message?: string };
      if (ended.type !== "done")
        return fail("run", `run ${runId} ended with ${ended.code}: ${ended.message}`);
      if (toolResults !== 1 || !ended.output) {
        return fail("run", `run ${runId}: ${toolResults} tool results, output '${ended.output}'`);
      }
      ok("run", performance.now() - start);
    } catch (err) {
      fail("run", String(err));
    }
  }

  // A key's life: created, used, revoked, refused at once (the isolate that revokes forgets it).
  // The refusal is a failed authentication, which relay counts per client address and throttles
  // past RATE_LIMIT_AUTH_MAX (20 a minute by default): each cycle is a client of its own, as key
  // holders are, so the throttle does not turn the churn into 429s. Plain workerd takes the address
  // from cf-connecting-ip, which Cloudflare itself sets when deployed.
  let churnCount = 0;
  async function oneChurn(): Promise<void> {
    const n = churnCount++;
    const address = `10.77.${(n >> 8) & 255}.${n & 255}`;
    const start = performance.now();
    try {
      const created = await request(otherPool, "/v1/keys", { body: { name: "soak churn" } });
      if (created.status !== 201) return fail("key churn", `create: status ${created.status}`);
      const { apiKey, key } = JSON.parse(created.text) as { apiKey: string; key: { id: string } };
      const body = { model: "openai:bench", messages: [{ role: "user", content: "New key." }] };
      const used = await request(otherPool, "/v1/chat/completions", { body, key: apiKey, address });
      if (used.status !== 200) return fail("key churn", `new key refused: status ${used.status}`);
      const revoked = await request(otherPool, `/v1/keys/${key.id}`, { method: "DELETE" });
      if (revoked.status !== 200) return fail("key churn", `revoke: status ${revoked.status}`);
      const refused = await request(otherPool, "/v1/chat/completions", { body, key: apiKey, address });
      if (refused.status !== 401) return fail("key churn", `revoked key answered ${refused.status}, not 401`);
      ok("key churn", performance.now() - start);
    } catch (err) {
      fail("key churn", String(err));
    }
  }

  async function oneUsageRead(): Promise<void> {
    const start = performance.now();
    try {
      const res = await request(otherPool, "/v1/usage");
      if (res.status !== 200) return fail("usage read", `status ${res.status}: ${res.text.slice(0, 200)}`);
      ok("usage read", performance.now() - start);
    } catch (err) {
      fail("usage read", String(err));
    }
  }

  const t0 = performance.now();
  const stopAt = t0 + job.durationMs;
  const running = () => performance.now() < stopAt;
  const inFlight = new Set<Promise<void>>();
  /** Starts `fn` every `everyMs` until the end (open loop: a slow answer does not slow the rate). */
  const every = (everyMs: number, fn: () => Promise<void>) => {
    if (!Number.isFinite(everyMs) || everyMs <= 0) return null;
    return setInterval(() => {
      if (!running()) return;
      const p = fn().finally(() => inFlight.delete(p));
      inFlight.add(p);
    }, everyMs);
  };
  const timers = [
    every(1000 / job.jsonPerSecond, oneJson),
    every(1000 / job.runsPerSecond, oneRun),
    every(job.churnEveryMs, oneChurn),
    every(job.drainEveryMs, oneUsageRead),
  ];
  const emit = (type: WindowLine["type"], from: Record<Kind, Histogram>, samples: string[]) => {
    const line: WindowLine = {
      type,
      atMs: Math.round(performance.now() - t0),
      open,
      kinds: Object.fromEntries(KINDS.map((k) => [k, from[k].stats()])) as Record<Kind, KindStats>,
      errorSamples: samples,
    };
    process.stdout.write(`${JSON.stringify(line)}\n`);
  };
  const windows = setInterval(() => {
    emit("window", windowed, errorSamples);
    for (const h of Object.values(windowed)) h.reset();
    errorSamples = [];
  }, job.windowMs);

  // The streams: each connection starts its next stream as soon as one ends, spread over the first
  // stream's length so that they do not all start and end together.
  const streamMs = job.tokens * job.delayMs;
  await Promise.all(
    Array.from({ length: job.streams }, async (_, i) => {
      await new Promise((r) => setTimeout(r, (i * streamMs) / job.streams));
      let n = i;
      while (running()) {
        await oneStream(n);
        n += job.streams;
      }
    }),
  );
  for (const t of timers) if (t) clearInterval(t);
  await Promise.all(inFlight);
  clearInterval(windows);
  emit("tail", windowed, errorSamples);
  emit("total", total, allErrorSamples);
  await Promise.all([streamPool.close(), otherPool.close()]);
}
