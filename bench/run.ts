import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import pg from "pg";
import { connectUrl } from "../scripts/lib/database";
import { ROOT } from "../scripts/lib/env";
import { freePort, type Managed, startProcess, stopProcess, waitForHttp } from "../scripts/lib/processes";
import {
  createScratchDatabase,
  dropUsageQueue,
  type RunningSidecar,
  type ScratchDatabase,
  startSidecarProcess,
} from "../scripts/lib/scratch";
import { loadMasterKeys } from "../workers/credentials/crypto";
import { putCredential } from "../workers/db/queries/credentials";
import { createTenant, issueApiKey } from "../workers/db/queries/tenants";
import { startProfile, summariseProfile } from "./profile";
import { cpuNs, rssKb, serveWithWorkerd } from "./workerd";

// `npm run bench [-- --quick]`: relay's overhead beside a bare pass-through Worker and the direct
// path, served by workerd itself. See the README's performance section.

const quick = process.argv.includes("--quick");
const REPS = 3;
const WARMUP_MS = quick ? 2000 : 3000;
const RUN_MS = quick ? 1500 : 5000;
const PG_ADMIN_URL = process.env.RELAY_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const REDIS_URL = process.env.RELAY_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const OUT = resolve(ROOT, "bench-results");
const BUILD = resolve(ROOT, ".bench");
const NODE = process.execPath;
const STREAM_EVENTS = 103; // role chunk + 100 tokens + finish chunk + [DONE]
/** `target/scenario` to CPU-profile, e.g. "relay-openai/json c=50". */
const PROFILE = process.env.RELAY_BENCH_PROFILE;

// Server on core 0; load generator, mock upstream and sidecar on core 1.
const pinned = availableParallelism() >= 2;
const onServerCore = pinned ? ["taskset", "-c", "0"] : [];
const onClientCore = pinned ? ["taskset", "-c", "1"] : [];

type TargetName = "direct" | "bare" | "bare+js" | "relay-openai" | "relay-anthropic";
interface Scenario {
  name: string;
  stream: boolean;
  concurrency: number;
  delayMs: number;
}
const SCENARIOS: Scenario[] = [
  { name: "json c=1", stream: false, concurrency: 1, delayMs: 0 },
  { name: "json c=50", stream: false, concurrency: 50, delayMs: 0 },
  { name: "sse 100 c=20", stream: true, concurrency: 20, delayMs: 0 },
  { name: "sse 100 c=20 10ms", stream: true, concurrency: 20, delayMs: 10 },
];

interface LoadResult {
  requests: number;
  errors: number;
  errorSamples: string[];
  events: number;
  rps: number;
  p50: number;
  p99: number;
  ttfbP50: number;
  ttfbP99: number;
}

interface Run extends LoadResult {
  cpuUsPerRequest: number | null;
  cpuUsPerEvent: number | null;
  peakRssMb: number | null;
  otherBusyPct: number;
}

function machineJiffies(): { busy: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] as string;
  const v = line.split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

function runLoad(job: object): Promise<LoadResult & { clientCpuMs: number }> {
  return new Promise((resolvePromise, reject) => {
    const cmd = [...onClientCore, NODE, "--no-warnings", resolve(ROOT, "bench/load.ts"), JSON.stringify(job)];
    const child = spawn(cmd[0] as string, cmd.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`load generator failed (${code}): ${err}`));
      resolvePromise(JSON.parse(out));
    });
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.floor(s.length / 2)] as number) : 0;
};
const spread = (xs: number[]) => {
  const m = median(xs);
  return m ? ((Math.max(...xs) - Math.min(...xs)) / m) * 100 : 0;
};

async function dbCounters(client: pg.Client, name: string): Promise<{ xacts: number; sessions: number }> {
  // Backends report their counters at most once a second; wait for them to land.
  await new Promise((r) => setTimeout(r, 1100));
  await client.query("select pg_stat_clear_snapshot()");
  const { rows } = await client.query(
    "select xact_commit + xact_rollback as xacts, sessions from pg_stat_database where datname = $1",
    [name],
  );
  return { xacts: Number(rows[0]?.xacts ?? 0), sessions: Number(rows[0]?.sessions ?? 0) };
}

async function build(outdir: string, config?: string): Promise<void> {
  rmSync(outdir, { recursive: true, force: true });
  const args = [
    resolve(ROOT, "node_modules/wrangler/bin/wrangler.js"),
    "deploy",
    "--dry-run",
    "--outdir",
    outdir,
  ];
  if (config) args.push("--config", config);
  await new Promise<void>((res, rej) => {
    const child = spawn(NODE, args, {
      cwd: ROOT,
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    });
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    child.on("close", (code) => (code === 0 ? res() : rej(new Error(`wrangler build failed: ${err}`))));
  });
}

async function main(): Promise<void> {
  const started = new Date();
  const processes: Managed[] = [];
  let database: ScratchDatabase | null = null;
  let sidecar: RunningSidecar | null = null;
  const pgAdmin = new pg.Client({ connectionString: PG_ADMIN_URL });
  try {
    console.log(
      `relay bench (${quick ? "quick" : "full"}): ${REPS} runs of ${RUN_MS} ms per measurement, pinned=${pinned}`,
    );
    console.log("building the deployable bundles (wrangler deploy --dry-run)…");
    await Promise.all([
      build(resolve(BUILD, "relay")),
      build(resolve(BUILD, "bare"), resolve(ROOT, "bench/bare/wrangler.toml")),
    ]);

    await pgAdmin.connect();
    database = await createScratchDatabase(PG_ADMIN_URL, "relay_bench");
    const mockPort = await freePort();
    const mock = startProcess(
      "mock",
      onClientCore[0] ?? NODE,
      [
        ...onClientCore.slice(1),
        ...(pinned ? [NODE] : []),
        "--no-warnings",
        resolve(ROOT, "bench/mock-upstream.ts"),
        String(mockPort),
      ],
      { quiet: true },
    );
    processes.push(mock);
    const mockUrl = `http://127.0.0.1:${mockPort}`;

    // A tenant whose openai and anthropic credentials point at the mock.
    const masterKey = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex");
    const seed = await connectUrl(database.url);
    let apiKey: string;
    try {
      const audit = { actor: "bench" };
      const tenant = await createTenant(seed.db, audit, "bench");
      if (!tenant) throw new Error("could not create the bench tenant");
      apiKey = (await issueApiKey(seed.db, audit, tenant.id, "bench")).apiKey;
      const keys = await loadMasterKeys(masterKey);
      await putCredential(seed.db, audit, tenant.id, keys, {
        name: "openai",
        provider: "openai",
        apiKey: "sk-bench",
        baseUrl: `${mockUrl}/openai/v1`,
        label: null,
      });
      await putCredential(seed.db, audit, tenant.id, keys, {
        name: "anthropic",
        provider: "anthropic",
        apiKey: "sk-bench",
        baseUrl: `${mockUrl}/anthropic`,
        label: null,
      });
    } finally {
      await seed.close();
    }

    const redisToken = Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString("hex");
    const db = new URL(database.url);
    sidecar = await startSidecarProcess(
      {
        RELAY_PG_PROXY_TARGETS: `${db.hostname}:${db.port || 5432}`,
        REDIS_URL,
        RELAY_REDIS_REST_TOKEN: redisToken,
      },
      { wrap: onClientCore },
    );
    const relayPort = await freePort();
    const barePort = await freePort();
    const relayInspector = PROFILE ? await freePort() : undefined;
    const bareInspector = PROFILE ? await freePort() : undefined;
    const flags = ["nodejs_compat", "enable_request_signal"];
    const relay = await serveWithWorkerd({
      name: "relay",
      bundleDir: resolve(BUILD, "relay"),
      port: relayPort,
      inspectorPort: relayInspector,
      wrap: onServerCore,
      compatibilityFlags: flags,
      bindings: {
        DATABASE_URL: database.url,
        RELAY_DB_WS_PROXY: `ws://127.0.0.1:${sidecar.port}/v2`,
        RELAY_MASTER_KEY: masterKey,
        UPSTASH_REDIS_REST_URL: `${sidecar.url}/redis`,
        UPSTASH_REDIS_REST_TOKEN: redisToken,
        RELAY_ALLOW_PRIVATE_UPSTREAMS: "true",
      },
    });
    processes.push(relay);
    const bare = await serveWithWorkerd({
      name: "bare",
      bundleDir: resolve(BUILD, "bare"),
      port: barePort,
      inspectorPort: bareInspector,
      wrap: onServerCore,
      compatibilityFlags: flags,
      bindings: { UPSTREAM: `${mockUrl}/openai/v1` },
    });
    processes.push(bare);
    await waitForHttp(`${mockUrl}/`, 10_000).catch(() => {});

    const targets: Record<
      TargetName,
      { origin: string; path: string; model: string; auth: boolean; pid: number | null }
    > = {
      direct: { origin: mockUrl, path: "/openai/v1/chat/completions", model: "", auth: false, pid: null },
      bare: {
        origin: `http://127.0.0.1:${barePort}`,
        path: "/v1/chat/completions",
        model: "",
        auth: false,
        pid: bare.child.pid ?? null,
      },
      "bare+js": {
        origin: `http://127.0.0.1:${barePort}`,
        path: "/js/v1/chat/completions",
        model: "",
        auth: false,
        pid: bare.child.pid ?? null,
      },
      "relay-openai": {
        origin: `http://127.0.0.1:${relayPort}`,
        path: "/v1/chat/completions",
        model: "openai:",
        auth: true,
        pid: relay.child.pid ?? null,
      },
      "relay-anthropic": {
        origin: `http://127.0.0.1:${relayPort}`,
        path: "/v1/chat/completions",
        model: "anthropic:",
        auth: true,
        pid: relay.child.pid ?? null,
      },
    };

    const results: Record<string, Record<string, Run[]>> = {};
    // CPU of every long-lived process of the benchmark, to tell what else kept the machine busy.
    const ownCpuNs = () =>
      [mock.child.pid, sidecar?.process.child.pid, relay.child.pid, bare.child.pid].reduce<number>(
        (t, p) => t + (p ? cpuNs(p) : 0),
        0,
      );
    const dbRoundTrips: Record<string, { requests: number; xacts: number; sessions: number }> = {};

    // RELAY_BENCH_ONLY="json c=50" narrows the run to one scenario while iterating on the hot path.
    const only = process.env.RELAY_BENCH_ONLY;
    for (const scenario of SCENARIOS.filter((sc) => !only || sc.name === only)) {
      const byTarget: Record<string, Run[]> = {};
      results[scenario.name] = byTarget;
      for (const [name, target] of Object.entries(targets) as [TargetName, (typeof targets)[TargetName]][]) {
        const body = JSON.stringify({
          model: `${target.model}bench-100-${scenario.delayMs}`,
          messages: [{ role: "user", content: "Say hello to the benchmark." }],
          stream: scenario.stream,
        });
        const job = {
          origin: target.origin,
          path: target.path,
          headers: {
            "content-type": "application/json",
            ...(target.auth ? { authorization: `Bearer ${apiKey}` } : {}),
          },
          body,
          concurrency: scenario.concurrency,
          stream: scenario.stream,
          expectEvents: STREAM_EVENTS,
        };
        // Warm-up: caches, connections, JIT.
        const warm = await runLoad({ ...job, warmupMs: 0, durationMs: WARMUP_MS });
        if (warm.errors)
          throw new Error(`${name} / ${scenario.name}: warm-up errors: ${warm.errorSamples.join("; ")}`);
        const before = target.auth ? await dbCounters(pgAdmin, database.name) : null;
        const inspector = name.startsWith("bare") ? bareInspector : relayInspector;
        const stopProfile =
          PROFILE === `${name}/${scenario.name}` && inspector ? await startProfile(inspector) : null;

        const runs: Run[] = [];
        for (let rep = 0; rep < REPS; rep++) {
          const cpu0 = target.pid ? cpuNs(target.pid) : 0;
          const machine0 = machineJiffies();
          const others0 = ownCpuNs();
          let peak = 0;
          const sampler = setInterval(() => {
            if (target.pid) peak = Math.max(peak, rssKb(target.pid));
          }, 100);
          const r = await runLoad({ ...job, warmupMs: 0, durationMs: RUN_MS });
          clearInterval(sampler);
          const cpu = target.pid ? (cpuNs(target.pid) - cpu0) / 1000 : null;
          const machine1 = machineJiffies();
          const others1 = ownCpuNs();
          // CPU the machine spent that none of the benchmark's processes account for (jiffies = 10 ms).
          const busyMs = (machine1.busy - machine0.busy) * 10;
          const oursMs = (others1 - others0) / 1e6 + r.clientCpuMs;
          const wallMs = ((machine1.total - machine0.total) * 10) / availableParallelism();
          const done = r.requests + r.errors;
          runs.push({
            ...r,
            cpuUsPerRequest: cpu !== null && done ? cpu / done : null,
            cpuUsPerEvent: cpu !== null && r.events ? cpu / r.events : null,
            peakRssMb: target.pid ? peak / 1024 : null,
            otherBusyPct: wallMs ? Math.max(0, ((busyMs - oursMs) / wallMs) * 100) : 0,
          });
          if (r.errors)
            console.log(`  ! ${name} / ${scenario.name}: ${r.errors} errors, e.g. ${r.errorSamples[0]}`);
        }
        if (stopProfile) {
          const path = resolve(OUT, `profile-${name}-${scenario.name.replace(/\W+/g, "_")}.cpuprofile`);
          mkdirSync(OUT, { recursive: true });
          console.log(
            `\nCPU profile of ${PROFILE} (self time), saved to ${path}:\n${summariseProfile(await stopProfile(), path)}\n`,
          );
        }
        if (before) {
          const after = await dbCounters(pgAdmin, database.name);
          const prev = dbRoundTrips[name] ?? { requests: 0, xacts: 0, sessions: 0 };
          dbRoundTrips[name] = {
            requests: prev.requests + runs.reduce((t, r) => t + r.requests + r.errors, 0),
            xacts: prev.xacts + (after.xacts - before.xacts),
            sessions: prev.sessions + (after.sessions - before.sessions),
          };
        }
        byTarget[name] = runs;
        const m = median(runs.map((r) => r.rps));
        console.log(
          `  ${scenario.name.padEnd(18)} ${name.padEnd(16)} ${m.toFixed(0).padStart(6)} req/s  p50 ${median(runs.map((r) => r.p50)).toFixed(2)} ms`,
        );
      }
    }

    report(started, results, dbRoundTrips);
  } finally {
    for (const p of processes.reverse()) await stopProcess(p);
    await sidecar?.stop();
    await pgAdmin.end().catch(() => {});
    if (database) await dropUsageQueue(REDIS_URL, database.url);
    await database?.drop().catch(() => {});
  }
}

interface Summary {
  rps: number;
  rpsSpread: number;
  p50: number;
  p99: number;
  ttfbP50: number;
  cpuUsPerRequest: number | null;
  cpuUsPerEvent: number | null;
  peakRssMb: number | null;
  errors: number;
  otherBusyPct: number;
}

function summarise(runs: Run[]): Summary {
  const pick = (f: (r: Run) => number | null) => {
    const xs = runs.map(f).filter((x): x is number => x !== null);
    return xs.length ? median(xs) : null;
  };
  return {
    rps: median(runs.map((r) => r.rps)),
    rpsSpread: spread(runs.map((r) => r.rps)),
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    ttfbP50: median(runs.map((r) => r.ttfbP50)),
    cpuUsPerRequest: pick((r) => r.cpuUsPerRequest),
    cpuUsPerEvent: pick((r) => r.cpuUsPerEvent),
    peakRssMb: pick((r) => r.peakRssMb),
    errors: runs.reduce((t, r) => t + r.errors, 0),
    otherBusyPct: Math.max(...runs.map((r) => r.otherBusyPct)),
  };
}

function report(
  started: Date,
  results: Record<string, Record<string, Run[]>>,
  db: Record<string, { requests: number; xacts: number; sessions: number }>,
): void {
  const s: Record<string, Record<string, Summary>> = {};
  for (const [scenario, byTarget] of Object.entries(results)) {
    s[scenario] = Object.fromEntries(Object.entries(byTarget).map(([t, runs]) => [t, summarise(runs)]));
  }
  const empty: Summary = {
    rps: Number.NaN,
    rpsSpread: 0,
    p50: Number.NaN,
    p99: Number.NaN,
    ttfbP50: Number.NaN,
    cpuUsPerRequest: null,
    cpuUsPerEvent: null,
    peakRssMb: null,
    errors: 0,
    otherBusyPct: 0,
  };
  const get = (scenario: string, target: string) => s[scenario]?.[target] ?? empty;
  const fmt = (n: number | null, digits = 2) => (n === null ? "–" : n.toFixed(digits));

  const rows: string[] = [
    "| scenario | target | req/s (spread) | p50 ms | p99 ms | TTFB p50 ms | added p50 vs direct ms | CPU µs/req | CPU µs/event | peak RSS MB | errors |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const [scenario, byTarget] of Object.entries(s)) {
    const direct = byTarget.direct as Summary;
    for (const [target, m] of Object.entries(byTarget)) {
      rows.push(
        `| ${scenario} | ${target} | ${m.rps.toFixed(0)} (±${m.rpsSpread.toFixed(0)}%) | ${fmt(m.p50)} | ${fmt(m.p99)} | ${fmt(m.ttfbP50)} | ${target === "direct" ? "–" : fmt(m.p50 - direct.p50)} | ${fmt(m.cpuUsPerRequest, 0)} | ${fmt(m.cpuUsPerEvent, 1)} | ${fmt(m.peakRssMb, 0)} | ${m.errors} |`,
      );
    }
  }

  const c50 = (t: string) => get("json c=50", t);
  const c1 = (t: string) => get("json c=1", t);
  const sse = (t: string) => get("sse 100 c=20", t);
  const paced = (t: string) => get("sse 100 c=20 10ms", t);
  const added = (t: string) => c1(t).p50 - c1("direct").p50;
  const ratio = (a: number | null, b: number | null) => (a !== null && b ? a / b : Number.NaN);
  const dbRelay = Object.values(db).reduce(
    (t, d) => ({
      requests: t.requests + d.requests,
      xacts: t.xacts + d.xacts,
      sessions: t.sessions + d.sessions,
    }),
    { requests: 0, xacts: 0, sessions: 0 },
  );
  const targets = [
    [
      "Non-streaming throughput at c=50, relay ÷ bare",
      ratio(c50("relay-openai").rps, c50("bare").rps),
      "≥ 0.75",
      (v: number) => v >= 0.75,
      (v: number) => v.toFixed(2),
    ],
    [
      "Added p50 latency at c=1, relay − direct (ms)",
      added("relay-openai"),
      "≤ 0.5",
      (v: number) => v <= 0.5,
      (v: number) => v.toFixed(3),
    ],
    [
      "… and relay ÷ bare added latency",
      ratio(added("relay-openai"), added("bare")),
      "≤ 1.5",
      (v: number) => v <= 1.5,
      (v: number) => v.toFixed(2),
    ],
    [
      "Streaming CPU per event, relay (OpenAI route) ÷ bare",
      ratio(sse("relay-openai").cpuUsPerEvent, sse("bare").cpuUsPerEvent),
      "≤ 1.3",
      (v: number) => v <= 1.3,
      (v: number) => v.toFixed(2),
    ],
    [
      "TTFB at 10 ms pacing, relay − bare (ms)",
      paced("relay-openai").ttfbP50 - paced("bare").ttfbP50,
      "≤ 1",
      (v: number) => v <= 1,
      (v: number) => v.toFixed(2),
    ],
    [
      "… the same ÷ bare+js (a JS transform on the stream, the floor for inspecting it)",
      ratio(sse("relay-openai").cpuUsPerEvent, sse("bare+js").cpuUsPerEvent),
      "context",
      (v: number) => v <= 1.3,
      (v: number) => v.toFixed(2),
    ],
    [
      "Streaming CPU per event, relay (Anthropic translation) ÷ bare",
      ratio(sse("relay-anthropic").cpuUsPerEvent, sse("bare").cpuUsPerEvent),
      "≤ 2",
      (v: number) => v <= 2,
      (v: number) => v.toFixed(2),
    ],
    [
      "Postgres transactions per relay request, after warm-up",
      dbRelay.requests ? dbRelay.xacts / dbRelay.requests : Number.NaN,
      "≈ 0 (none on the critical path)",
      (v: number) => v < 0.01,
      (v: number) =>
        `${v.toFixed(4)} (${dbRelay.xacts} over ${dbRelay.requests} requests, ${dbRelay.sessions} sessions)`,
    ],
  ] as const;
  const targetRows = ["| target | measured | goal | met |", "|---|---|---|---|"];
  for (const [label, value, goal, ok, show] of targets) {
    targetRows.push(
      `| ${label} | ${Number.isNaN(value) ? "–" : show(value)} | ${goal} | ${Number.isNaN(value) ? "–" : ok(value) ? "yes" : "**no**"} |`,
    );
  }
  const busiest = Math.max(...Object.values(s).flatMap((b) => Object.values(b).map((m) => m.otherBusyPct)));
  const notes = [
    `Run ${started.toISOString()}, ${quick ? "quick" : "full"} mode, ${REPS} runs of ${RUN_MS} ms per cell after a ${WARMUP_MS} ms warm-up; medians, spread = (max−min)/median.`,
    pinned
      ? "workerd (relay and bare, one process each) pinned to CPU 0; load generator, mock upstream and sidecar pinned to CPU 1."
      : "Only one CPU: nothing is pinned, and the numbers include the load generator's share.",
    `Other processes used up to ${busiest.toFixed(0)}% of the machine during a run${busiest > 10 ? " — **the machine was busy; treat these numbers with care**" : ""}.`,
  ];
  const markdown = `## Benchmark\n\n${notes.map((n) => `- ${n}`).join("\n")}\n\n${rows.join("\n")}\n\n### Targets\n\n${targetRows.join("\n")}\n`;
  mkdirSync(OUT, { recursive: true });
  const stamp = started.toISOString().replace(/[:.]/g, "-");
  writeFileSync(
    resolve(OUT, `bench-${stamp}.json`),
    JSON.stringify(
      { started, quick, reps: REPS, runMs: RUN_MS, pinned, summary: s, raw: results, db },
      null,
      2,
    ),
  );
  writeFileSync(resolve(OUT, `bench-${stamp}.md`), markdown);
  writeFileSync(resolve(OUT, "latest.md"), markdown);
  console.log(`\n${markdown}\nwritten to bench-results/bench-${stamp}.{json,md}`);
}

await main();
