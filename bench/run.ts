import { mkdirSync } from "node:fs";
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import pg from "pg";
import { ROOT } from "../scripts/lib/env";
import { freePort, type Managed, startProcess, stopProcess, waitForHttp } from "../scripts/lib/processes";
import {
  createScratchDatabase,
  dropOutbox,
  type RunningSidecar,
  type ScratchDatabase,
  startSidecarProcess,
} from "../scripts/lib/scratch";
import { type BrokerResult, measureBrokerWakeUp } from "./broker";
import { type LoadJob, measureRun, type Processes, type RedisPerRequest, type Run, runLoad } from "./measure";
import { startProfile, summariseProfile } from "./profile";
import { type DbCount, median, type Results, report } from "./report";
import {
  checkScenarios,
  LIMITED_POLICY,
  PII_POLICY,
  type RequestContext,
  SCENARIOS,
  type Server,
  TARGETS,
  type TargetName,
  TOKENS,
  upstreamEvents,
} from "./scenarios";
import { seedRelay } from "./seed";
import { buildWorker, serveWithWorkerd } from "./workerd";

// `npm run bench [-- --quick]`: relay's overhead beside a bare pass-through Worker and the direct
// path, served by workerd itself, against an upstream that writes one SSE event per write. What is
// measured is in scenarios.ts; see the README's performance section.

const quick = process.argv.includes("--quick");
// Full: about 9 minutes. Quick (under 4): shorter runs and warm-ups, one stream per connection per
// paced run, and without the JSON c=1 cells and the one-write extra, which no goal reads.
const REPS = 3;
const WARMUP_MS = quick ? 1000 : 2500;
const RUN_MS = quick ? 1500 : 5000;
/** A paced stream lasts about a second: 1000 ms is one stream per connection, 3000 three. */
const PACED_RUN_MS = quick ? 1000 : 3000;
const PG_ADMIN_URL = process.env.RELAY_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const REDIS_URL = process.env.RELAY_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const OUT = resolve(ROOT, "bench-results");
const BUILD = resolve(ROOT, ".bench");
const NODE = process.execPath;
/** `target/scenario` to CPU-profile, e.g. "relay-openai/json c=50". */
const PROFILE = process.env.RELAY_BENCH_PROFILE;
/** Comma-separated scenario names to run (even those `--quick` leaves out), e.g. "json c=50". */
const ONLY = process.env.RELAY_BENCH_ONLY?.split(",").map((n) => n.trim());
/** The broker's wake-up measurement, by the name RELAY_BENCH_ONLY knows it. */
const BROKER = "broker";
/** Runs measured at once, as issue 12 asks, and in all (after as many for warm-up). */
const BROKER_CONCURRENCY = 50;
const BROKER_RUNS = quick ? 200 : 500;

// Server on core 0; load generator, mock upstream and sidecar on core 1.
const pinned = availableParallelism() >= 2;
const onServerCore = pinned ? ["taskset", "-c", "0"] : [];
const onClientCore = pinned ? ["taskset", "-c", "1"] : [];

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

/** What the sidecar's Redis front has served: round trips by first command, commands by name. */
interface RedisCounts {
  roundTrips: Record<string, number>;
  commands: Record<string, number>;
}

async function redisCounts(front: RunningSidecar, token: string): Promise<RedisCounts> {
  const res = await fetch(`${front.url}/redis/stats`, { headers: { authorization: `Bearer ${token}` } });
  return (await res.json()) as RedisCounts;
}

function redisPerRequest(before: RedisCounts, after: RedisCounts, requests: number): RedisPerRequest {
  const delta = (of: keyof RedisCounts, names?: string[]) =>
    (names ?? Object.keys(after[of])).reduce((t, n) => t + (after[of][n] ?? 0) - (before[of][n] ?? 0), 0);
  const per = (n: number) => (requests ? n / requests : 0);
  return {
    roundTrips: per(delta("roundTrips")),
    limitsRoundTrips: per(delta("roundTrips", ["evalsha", "eval"])),
    scripts: per(delta("commands", ["evalsha", "eval"])),
    pushes: per(delta("roundTrips", ["rpush"])),
  };
}

async function main(): Promise<void> {
  const started = new Date();
  const scenarios = SCENARIOS.filter((sc) => (ONLY ? ONLY.includes(sc.name) : !(quick && sc.fullOnly)));
  const withBroker = !ONLY || ONLY.includes(BROKER);
  if (ONLY && scenarios.length + (withBroker ? 1 : 0) !== ONLY.length)
    throw new Error(
      `RELAY_BENCH_ONLY names unknown scenarios; known: ${[...SCENARIOS.map((s) => s.name), BROKER].join(", ")}`,
    );
  checkScenarios(scenarios);
  const processes: Managed[] = [];
  let database: ScratchDatabase | null = null;
  let sidecar: RunningSidecar | null = null;
  const pgAdmin = new pg.Client({ connectionString: PG_ADMIN_URL });
  try {
    console.log(
      `relay bench (${quick ? "quick" : "full"}): ${scenarios.length} scenarios, ${REPS} runs of ${RUN_MS} ms per cell, pinned=${pinned}`,
    );
    console.log("building the deployable bundles (wrangler deploy --dry-run)…");
    await Promise.all([
      buildWorker(resolve(BUILD, "relay")),
      buildWorker(resolve(BUILD, "bare"), resolve(ROOT, "bench/bare/wrangler.toml")),
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

    const masterKey = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex");
    const { apiKeys } = await seedRelay(database.url, masterKey, mockUrl, {
      limited: LIMITED_POLICY,
      pii: PII_POLICY,
    });

    const redisToken = Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString("hex");
    // Shared by the Worker and the sidecar: agent runs wait for tool results at the sidecar's broker.
    const internalSecret = Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString("hex");
    const db = new URL(database.url);
    sidecar = await startSidecarProcess(
      {
        RELAY_PG_PROXY_TARGETS: `${db.hostname}:${db.port || 5432}`,
        REDIS_URL,
        RELAY_REDIS_REST_TOKEN: redisToken,
        RELAY_INTERNAL_SECRET: internalSecret,
      },
      { wrap: onClientCore },
    );
    const relayPort = await freePort();
    const barePort = await freePort();
    const inspectors: Partial<Record<Server, number>> = PROFILE
      ? { relay: await freePort(), bare: await freePort() }
      : {};
    const flags = ["nodejs_compat", "enable_request_signal"];
    const relay = await serveWithWorkerd({
      name: "relay",
      bundleDir: resolve(BUILD, "relay"),
      port: relayPort,
      inspectorPort: inspectors.relay,
      wrap: onServerCore,
      compatibilityFlags: flags,
      bindings: {
        DATABASE_URL: database.url,
        RELAY_DB_WS_PROXY: `ws://127.0.0.1:${sidecar.port}/v2`,
        RELAY_MASTER_KEY: masterKey,
        UPSTASH_REDIS_REST_URL: `${sidecar.url}/redis`,
        UPSTASH_REDIS_REST_TOKEN: redisToken,
        RELAY_ALLOW_PRIVATE_UPSTREAMS: "true",
        SIDECAR_URL: sidecar.url,
        RELAY_INTERNAL_SECRET: internalSecret,
        // Priced, so that the budgets of the key under a policy reserve and settle real amounts.
        RELAY_MODEL_PRICES: JSON.stringify({ bench: { input: 1, output: 2 } }),
      },
    });
    processes.push(relay);
    const bare = await serveWithWorkerd({
      name: "bare",
      bundleDir: resolve(BUILD, "bare"),
      port: barePort,
      inspectorPort: inspectors.bare,
      wrap: onServerCore,
      compatibilityFlags: flags,
      bindings: { UPSTREAM: mockUrl },
    });
    processes.push(bare);
    await waitForHttp(`${mockUrl}/health`, 10_000, () => mock.child.exitCode === null);
    console.log(`built and started in ${((Date.now() - started.getTime()) / 1000).toFixed(0)} s; measuring…`);

    const ctx: RequestContext = {
      origin: { mock: mockUrl, bare: `http://127.0.0.1:${barePort}`, relay: `http://127.0.0.1:${relayPort}` },
      apiKeys,
    };
    const servers: Record<Server, number | null> = {
      mock: null,
      bare: bare.child.pid ?? null,
      relay: relay.child.pid ?? null,
    };
    const clientCore = [mock.child.pid, sidecar.process.child.pid].filter((p): p is number => Boolean(p));
    const all = [...clientCore, ...[servers.bare, servers.relay].filter((p): p is number => p !== null)];

    const results: Results = {};
    const dbCount: DbCount = { requests: 0, xacts: 0, sessions: 0 };
    for (const scenario of scenarios) {
      const byTarget: Partial<Record<TargetName, Run[]>> = {};
      results[scenario.name] = byTarget;
      const paced = scenario.stream && scenario.delayMs > 0;
      for (const name of scenario.targets) {
        const target = TARGETS[name];
        const job: LoadJob = {
          ...target.request(scenario, ctx),
          concurrency: scenario.concurrency,
          stream: scenario.stream,
          expectEvents: target.clientEvents(scenario),
          gaps: paced,
          // Paced streams last a second: started together, their TTFB would be that of a burst of
          // new streams rather than of one stream among running ones.
          staggerMs: paced ? (scenario.delayMs * TOKENS) / 2 : 0,
          warmupMs: 0,
          durationMs: paced ? PACED_RUN_MS : RUN_MS,
        };
        // Warm-up: caches, connections, JIT. A paced cell's is one stream per connection (about a
        // second): the unpaced scenario before it warmed the same code.
        const warm = await runLoad({ ...job, durationMs: paced ? 0 : WARMUP_MS, staggerMs: 0 }, onClientCore);
        if (warm.errors)
          throw new Error(`${name} / ${scenario.name}: warm-up errors: ${warm.errorSamples.join("; ")}`);
        const isRelay = target.server === "relay";
        const before = isRelay ? await dbCounters(pgAdmin, database.name) : null;
        const inspector = inspectors[target.server];
        const stopProfile =
          PROFILE === `${name}/${scenario.name}` && inspector ? await startProfile(inspector) : null;

        const procs: Processes = { server: servers[target.server], clientCore, all };
        const events = scenario.stream ? upstreamEvents(scenario.format) : null;
        const runs: Run[] = [];
        for (let rep = 0; rep < REPS; rep++) {
          const front = sidecar;
          const counted = isRelay ? await redisCounts(front, redisToken) : null;
          const r = await measureRun(job, onClientCore, procs, events);
          if (counted) {
            // Background work (settlement, the usage push) lands just after the last response.
            await new Promise((res) => setTimeout(res, 200));
            const after = await redisCounts(front, redisToken);
            r.redisPerRequest = redisPerRequest(counted, after, r.requests + r.errors);
          }
          runs.push(r);
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
          dbCount.requests += runs.reduce((t, r) => t + r.requests + r.errors, 0);
          dbCount.xacts += after.xacts - before.xacts;
          dbCount.sessions += after.sessions - before.sessions;
        }
        byTarget[name] = runs;
        const rps = median(runs.map((r) => r.rps)).toFixed(0);
        const p50 = median(runs.map((r) => r.p50)).toFixed(2);
        const perEvent = median(runs.map((r) => r.cpuUsPerEvent ?? 0));
        const cpu = perEvent ? `  ${perEvent.toFixed(1)} µs/event` : "";
        console.log(
          `  ${scenario.name.padEnd(33)} ${name.padEnd(16)} ${rps.padStart(6)} req/s  p50 ${p50} ms${cpu}`,
        );
      }
    }

    let broker: BrokerResult | undefined;
    if (withBroker) {
      const opts = {
        origin: ctx.origin.relay,
        apiKey: apiKeys.default as string,
        concurrency: BROKER_CONCURRENCY,
      };
      const warm = await measureBrokerWakeUp({ ...opts, runs: BROKER_CONCURRENCY * 2 });
      if (warm.errors) throw new Error(`broker warm-up errors: ${warm.errorSamples.join("; ")}`);
      broker = await measureBrokerWakeUp({ ...opts, runs: BROKER_RUNS });
      console.log(
        `  ${"agent runs: broker wake-up".padEnd(33)} ${String(broker.concurrency).padStart(3)} at once  p50 ${broker.wakeP50.toFixed(2)} ms  p99 ${broker.wakeP99.toFixed(2)} ms  errors ${broker.errors}`,
      );
      if (broker.errors) console.log(`  ! broker: ${broker.errorSamples.join("; ")}`);
    }

    const { markdown, stem } = report(
      {
        started,
        quick,
        reps: REPS,
        warmupMs: WARMUP_MS,
        runMs: RUN_MS,
        pacedRunMs: PACED_RUN_MS,
        pinned,
        scenarios,
        broker,
      },
      results,
      dbCount,
      OUT,
    );
    const minutes = (Date.now() - started.getTime()) / 60_000;
    console.log(`\n${markdown}\nwritten to bench-results/${stem}.{json,md} (${minutes.toFixed(1)} minutes)`);
  } finally {
    for (const p of processes.reverse()) await stopProcess(p);
    await sidecar?.stop();
    await pgAdmin.end().catch(() => {});
    if (database) await dropOutbox(REDIS_URL, database.url);
    await database?.drop().catch(() => {});
  }
}

await main();
