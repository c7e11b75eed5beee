import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import IORedis from "ioredis";
import { ROOT } from "../scripts/lib/env";
import { freePort, type Managed, startProcess, stopProcess, waitForHttp } from "../scripts/lib/processes";
import {
  createScratchDatabase,
  dropOutbox,
  type RunningSidecar,
  type ScratchDatabase,
  startSidecarProcess,
} from "../scripts/lib/scratch";
import { type Env, loadConfig } from "../workers/config/env";
import { outboxKeys } from "../workers/outbox/queue";
import { seedRelay } from "./seed";
import { connectHeapProbe, type HeapProbe } from "./soak-heap";
import { KINDS, type Kind, type SoakJob, type WindowLine } from "./soak-load";
import { judgeMemory, type MemoryVerdict, type RssSample } from "./soak-memory";
import { buildWorker, cpuNs, rssKb, serveWithWorkerd } from "./workerd";

// `npm run soak [-- --minutes N --streams N]`, by hand, not in CI: the bench's workerd setup under
// sustained load — N SSE streams open at all times, JSON requests, agent runs (a builtin tool, and a
// function tool answered through the sidecar's broker) and key churn — with the RSS of every process
// sampled each window. Exits 1 on any error or on a process whose memory keeps growing (soak-memory.ts).
// See docs/performance.md.

const { values: args } = parseArgs({
  options: {
    minutes: { type: "string", default: "10" },
    streams: { type: "string", default: "500" },
  },
});
const minutes = Number(args.minutes);
const streams = Number(args.streams);
if (!(minutes > 0) || !Number.isInteger(streams) || streams < 1) {
  console.error(
    "usage: npm run soak [-- --minutes N (> 0, default 10) --streams N (integer ≥ 1, default 500)]",
  );
  process.exit(2);
}

const WINDOW_MS = 10_000;
const PG_ADMIN_URL = process.env.RELAY_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const REDIS_URL = process.env.RELAY_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const BUILD = resolve(ROOT, ".bench/soak");
const OUT = resolve(ROOT, "bench-results");
const NODE = process.execPath;
// Server on core 0; load generator, mock upstream and sidecar on core 1 (as the bench).
const pinned = availableParallelism() >= 2 && process.env.RELAY_SOAK_PIN !== "0";
const onServerCore = pinned ? ["taskset", "-c", "0"] : [];
const onClientCore = pinned ? ["taskset", "-c", "1"] : [];
const withNode = (wrap: string[]) => (wrap.length ? [...wrap, NODE] : [NODE]);

const randomHex = (bytes: number) =>
  Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString("hex");
const mb = (kb: number) => (kb / 1024).toFixed(0);

interface Row {
  line: WindowLine;
  rss: Record<string, number>;
  /** Each process's live JavaScript heap after a full collection, in KiB (processes that answer). */
  heap: Record<string, number>;
  /** Each process's CPU over the window, in % of one core. */
  cpu: Record<string, number>;
  /** Each process's time runnable but waiting for a CPU over the window, in % of the window (summed over threads). */
  waiting: Record<string, number>;
  /** CPU of everything else on the machine over the window (other work included), % of one core. */
  otherCpu: number;
  outbox: number;
}

/** Time a process's threads spent runnable but waiting for a CPU, in ns (/proc schedstat, field 2). */
function cpuWaitNs(pid: number): number {
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[1]);
    } catch {}
  }
  return total;
}

/** Busy jiffies of the whole machine (all cores), from /proc/stat. */
function machineBusyNs(): number {
  const v = (readFileSync("/proc/stat", "utf8").split("\n")[0] as string).split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return (v.reduce((a, b) => a + b, 0) - idle) * 10_000_000; // USER_HZ = 100
}

async function main(): Promise<number> {
  const started = Date.now();
  const processes: Managed[] = [];
  let database: ScratchDatabase | null = null;
  let sidecar: RunningSidecar | null = null;
  let redis: IORedis | null = null;
  try {
    console.log(
      `relay soak: ${streams} streams for ${minutes} min, with JSON requests, agent runs and key churn; pinned=${pinned}`,
    );
    await buildWorker(resolve(BUILD, "relay"));
    database = await createScratchDatabase(PG_ADMIN_URL, "relay_soak");

    const mockPort = await freePort();
    const inspect = {
      relay: await freePort(),
      sidecar: await freePort(),
      mock: await freePort(),
      load: await freePort(),
    };
    const inspectFlag = (port: number) => `--inspect=127.0.0.1:${port}`;
    const client = withNode(onClientCore);
    const mock = startProcess(
      "mock",
      client[0] as string,
      [
        ...client.slice(1),
        inspectFlag(inspect.mock),
        "--no-warnings",
        "--import",
        "tsx",
        resolve(ROOT, "bench/mock-upstream.ts"),
        String(mockPort),
      ],
      { quiet: true },
    );
    processes.push(mock);
    const mockUrl = `http://127.0.0.1:${mockPort}`;

    const masterKey = randomHex(32);
    const internalSecret = randomHex(24);
    const redisToken = randomHex(24);
    const { apiKeys } = await seedRelay(database.url, masterKey, mockUrl);
    const db = new URL(database.url);
    sidecar = await startSidecarProcess(
      {
        RELAY_PG_PROXY_TARGETS: `${db.hostname}:${db.port || 5432}`,
        REDIS_URL,
        RELAY_REDIS_REST_TOKEN: redisToken,
        RELAY_INTERNAL_SECRET: internalSecret,
        NODE_OPTIONS: inspectFlag(inspect.sidecar),
      },
      { wrap: onClientCore },
    );

    // The Worker's log: error lines fail the soak (an item not stored is an error even if every
    // response was right); "Network connection lost" is workerd's noise for a refused fetch.
    const workerErrors: string[] = [];
    let workerWarnings = 0;
    const relayPort = await freePort();
    const relay = await serveWithWorkerd({
      name: "relay",
      bundleDir: resolve(BUILD, "relay"),
      port: relayPort,
      inspectorPort: inspect.relay,
      wrap: onServerCore,
      compatibilityFlags: ["nodejs_compat", "enable_request_signal"],
      bindings: {
        DATABASE_URL: database.url,
        RELAY_DB_WS_PROXY: `ws://127.0.0.1:${sidecar.port}/v2`,
        RELAY_MASTER_KEY: masterKey,
        RELAY_INTERNAL_SECRET: internalSecret,
        SIDECAR_URL: sidecar.url,
        UPSTASH_REDIS_REST_URL: `${sidecar.url}/redis`,
        UPSTASH_REDIS_REST_TOKEN: redisToken,
        RELAY_ALLOW_PRIVATE_UPSTREAMS: "true",
        RELAY_MODEL_PRICES: JSON.stringify({ bench: { input: 1, output: 2 } }),
      },
      onOutput: (line) => {
        if (/"level":"error"/.test(line) || /uncaught|unhandled/i.test(line)) {
          if (workerErrors.length < 20) workerErrors.push(line.slice(0, 300));
          else workerErrors.length++;
        } else if (/"level":"warn"/.test(line)) workerWarnings++;
      },
    });
    processes.push(relay);
    await waitForHttp(`${mockUrl}/health`, 10_000, () => mock.child.exitCode === null);

    redis = new IORedis(REDIS_URL, { maxRetriesPerRequest: 1 });
    const queue = outboxKeys(loadConfig({ DATABASE_URL: database.url } as Env)).queue;

    const job: SoakJob = {
      origin: `http://127.0.0.1:${relayPort}`,
      apiKey: apiKeys.default as string,
      streams,
      durationMs: minutes * 60_000,
      windowMs: WINDOW_MS,
      // 2-second streams of 50 tokens, 40 ms apart: a chat answer's pace, and each stream's events
      // written one per write.
      tokens: 50,
      delayMs: 40,
      jsonPerSecond: 20,
      runsPerSecond: 2,
      churnEveryMs: 1000,
      // The deployed Worker's cron drains the outbox each minute; workerd runs no cron, so a usage
      // read (which drains before it reads) stands in for it, more often.
      drainEveryMs: 2000,
      // For diagnosis, any of the above changed: RELAY_SOAK_JOB='{"jsonPerSecond":0,"runsPerSecond":0}'.
      ...(JSON.parse(process.env.RELAY_SOAK_JOB ?? "{}") as Partial<SoakJob>),
    };

    const pids: Record<string, number | undefined> = {
      relay: relay.child.pid,
      sidecar: sidecar.process.child.pid,
      mock: mock.child.pid,
    };
    const rows: Row[] = [];
    const samples: Record<string, RssSample[]> = {};
    let total: WindowLine | null = null;
    type CpuAt = { at: bigint; machine: number; by: Record<string, number>; wait: Record<string, number> };
    let lastCpu: CpuAt | null = null;
    const sampleCpu = () => {
      const by: Record<string, number> = {};
      const wait: Record<string, number> = {};
      for (const [name, pid] of Object.entries({ ...pids, soak: process.pid })) {
        try {
          if (!pid) continue;
          by[name] = cpuNs(pid);
          wait[name] = cpuWaitNs(pid);
        } catch {}
      }
      const now: CpuAt = { at: process.hrtime.bigint(), machine: machineBusyNs(), by, wait };
      const prev = lastCpu;
      lastCpu = now;
      if (!prev) return { cpu: {}, waiting: {}, otherCpu: 0 };
      const wall = Number(now.at - prev.at);
      const share = (from: Record<string, number>, before: Record<string, number>) =>
        Object.fromEntries(
          Object.entries(from).map(([n, ns]) => [n, ((ns - (before[n] ?? 0)) / wall) * 100]),
        );
      const cpu = share(by, prev.by);
      const waiting = share(wait, prev.wait);
      const ours = Object.values(cpu).reduce((t, c) => t + c, 0);
      return { cpu, waiting, otherCpu: Math.max(((now.machine - prev.machine) / wall) * 100 - ours, 0) };
    };
    const sampleRss = () => {
      const rss: Record<string, number> = {};
      for (const [name, pid] of Object.entries(pids)) {
        if (!pid) continue;
        try {
          rss[name] = rssKb(pid);
        } catch {
          rss[name] = 0; // gone: the error lines will say why
        }
      }
      rss.soak = process.memoryUsage.rss() / 1024;
      return rss;
    };

    const header = `${"t".padStart(5)} ${"open".padStart(5)} ${"streams/s".padStart(9)} ${"json/s".padStart(6)} ${"runs/s".padStart(6)} ${"churn/s".padStart(7)} ${"errors".padStart(6)} ${"stream p99".padStart(10)} ${"ttfb p99".padStart(8)}  RSS MiB: ${Object.keys(pids).join(" / ")} / load / soak  outbox  CPU % of a core: the same + others  live heap MiB: relay / sidecar / mock / load`;
    console.log(`load for ${minutes} min; one line per ${WINDOW_MS / 1000} s\n${header}`);
    const loadArgs = [
      ...client.slice(1),
      inspectFlag(inspect.load),
      "--no-warnings",
      "--import",
      "tsx",
      resolve(ROOT, "bench/soak-load.ts"),
      JSON.stringify(job),
    ];
    let printing = Promise.resolve();
    const load = startProcess("load", client[0] as string, loadArgs, {
      quiet: true,
      onOutput: (text) => {
        if (text.trim() && !/^(\{|Debugger listening|For help, see)/.test(text))
          console.log(`[load] ${text}`);
      },
      onLine: (text) => {
        if (!text.startsWith("{")) return;
        const line = JSON.parse(text) as WindowLine;
        if (line.type === "total") {
          total = line;
          // A Node process with an inspector session open waits for it to close before it exits.
          void probes.then((p) => p.load?.close());
          return;
        }
        const rss = sampleRss();
        const row: Row = { line, rss, heap: {}, ...sampleCpu(), outbox: -1 };
        rows.push(row);
        // Only samples under load are judged: not the tail, while the streams wind down.
        const judged = line.type === "window";
        for (const [name, kb] of Object.entries(rss)) {
          if (!judged) break;
          samples[name] ??= [];
          samples[name].push({ atMs: line.atMs, rssKb: kb });
        }
        // Printed in order, each once its outbox length is known.
        printing = printing.then(async () => {
          row.outbox = (await redis?.llen(queue).catch(() => -1)) ?? -1;
          for (const [name, probe] of Object.entries(await probes)) {
            const kb = await probe.liveKb().catch(() => null);
            if (kb === null) continue;
            row.heap[name] = kb;
            if (!judged) continue;
            heapSamples[name] ??= [];
            heapSamples[name].push({ atMs: line.atMs, rssKb: kb });
          }
          console.log(formatRow(row));
          for (const e of line.errorSamples) console.log(`      ! ${e}`);
        });
      },
    });
    processes.push(load);
    pids.load = load.child.pid;
    const heapSamples: Record<string, RssSample[]> = {};
    // Connected once each inspector listens; a process that never answers is judged by RSS alone.
    const probes = (async () => {
      const out: Record<string, HeapProbe> = {};
      for (const [name, port] of Object.entries(inspect)) {
        let error: unknown;
        for (let attempt = 0; attempt < 20 && !out[name]; attempt++) {
          try {
            out[name] = await connectHeapProbe(port);
          } catch (err) {
            error = err;
            await new Promise((r) => setTimeout(r, 250));
          }
        }
        if (!out[name]) console.log(`(no heap figures for ${name}: ${String(error)})`);
      }
      return out;
    })();
    sampleCpu();
    const code = await load.exited;
    if (code !== 0 || !total) throw new Error(`the load generator exited with ${code} before its totals`);
    const totals = total as WindowLine;
    await printing;
    for (const probe of Object.values(await probes)) probe.close();

    // What the load left queued is drained, as the cron would: nothing may be left behind.
    let left = await redis.llen(queue);
    for (let i = 0; i < 30 && left > 0; i++) {
      await fetch(`${job.origin}/v1/usage`, { headers: { authorization: `Bearer ${job.apiKey}` } }).then(
        (r) => r.arrayBuffer(),
      );
      left = await redis.llen(queue);
    }

    const durationMs = minutes * 60_000;
    const verdicts = Object.fromEntries(
      Object.entries(samples).map(([name, s]) => [name, judgeMemory(s, durationMs)]),
    ) as Record<string, MemoryVerdict>;
    const heapVerdicts = Object.fromEntries(
      Object.entries(heapSamples).map(([name, s]) => [name, judgeMemory(s, durationMs)]),
    ) as Record<string, MemoryVerdict>;
    const errors = KINDS.reduce((t, k) => t + totals.kinds[k].errors, 0);
    const growing = [
      ...Object.entries(verdicts)
        .filter(([, v]) => v.verdict === "growing")
        .map(([name, v]) => [`${name}'s RSS`, v] as const),
      ...Object.entries(heapVerdicts)
        .filter(([, v]) => v.verdict === "growing")
        .map(([name, v]) => [`${name}'s live heap`, v] as const),
    ];
    const problems = [
      ...(errors ? [`${errors} failed requests`] : []),
      ...(workerErrors.length ? [`${workerErrors.length} error lines in the Worker's log`] : []),
      ...(left > 0 ? [`${left} outbox items still queued after the drain`] : []),
      ...growing.map(([what, v]) => `${what} grows ${v.slopeMbPerMin?.toFixed(1)} MiB/min`),
    ];
    const markdown = report({
      started,
      durationMs,
      job,
      totals,
      rows,
      verdicts,
      heapVerdicts,
      outboxLeft: left,
      workerErrors,
      workerWarnings,
      problems,
    });
    mkdirSync(OUT, { recursive: true });
    const stem = `soak-${new Date(started).toISOString().replace(/[:.]/g, "-")}`;
    writeFileSync(resolve(OUT, `${stem}.md`), markdown);
    writeFileSync(
      resolve(OUT, `${stem}.json`),
      JSON.stringify({ job, totals, rows, verdicts, heapVerdicts, problems }, null, 1),
    );
    console.log(`\n${markdown}\nwritten to bench-results/${stem}.{md,json}`);
    return problems.length ? 1 : 0;
  } finally {
    redis?.disconnect();
    for (const p of processes.reverse()) await stopProcess(p);
    await sidecar?.stop();
    if (database) await dropOutbox(REDIS_URL, database.url);
    await database?.drop().catch(() => {});
  }
}

function formatRow({ line, rss, heap, cpu, waiting, otherCpu, outbox }: Row): string {
  const per = (k: Kind) => (line.kinds[k].ok / (WINDOW_MS / 1000)).toFixed(k === "stream" ? 0 : 1);
  const errors = KINDS.reduce((t, k) => t + line.kinds[k].errors, 0);
  return [
    `${(line.atMs / 1000).toFixed(0)}s`.padStart(5),
    String(line.open).padStart(5),
    per("stream").padStart(9),
    per("json").padStart(6),
    per("run").padStart(6),
    per("key churn").padStart(7),
    String(errors).padStart(6),
    `${line.kinds.stream.p99Ms} ms`.padStart(10),
    `${line.kinds["stream ttfb"].p99Ms} ms`.padStart(8),
    ` ${Object.values(rss).map(mb).join(" / ")}`.padEnd(29),
    (outbox < 0 ? "?" : String(outbox)).padStart(6),
    `  ${Object.values(cpu)
      .map((c) => c.toFixed(0))
      .join(" / ")} + ${otherCpu.toFixed(0)}`,
    ` relay waited ${(waiting.relay ?? 0).toFixed(0)} %`,
    `  heap ${["relay", "sidecar", "mock", "load"].map((n) => (heap[n] === undefined ? "?" : mb(heap[n]))).join(" / ")}`,
  ].join(" ");
}

const meanOf = (values: number[]) => (values.length ? values.reduce((t, v) => t + v, 0) / values.length : 0);

function report(r: {
  started: number;
  durationMs: number;
  job: SoakJob;
  totals: WindowLine;
  rows: Row[];
  verdicts: Record<string, MemoryVerdict>;
  heapVerdicts: Record<string, MemoryVerdict>;
  outboxLeft: number;
  workerErrors: string[];
  workerWarnings: number;
  problems: string[];
}): string {
  const seconds = r.durationMs / 1000;
  const lines = [
    `## Soak, ${new Date(r.started).toISOString().slice(0, 16)}Z: ${r.job.streams} streams, ${r.durationMs / 60_000} min`,
    "",
    `Streams of ${r.job.tokens} tokens ${r.job.delayMs} ms apart (half OpenAI chat, half Anthropic messages, pass-through), ` +
      `${r.job.jsonPerSecond} JSON requests/s, ${r.job.runsPerSecond} agent runs/s (builtin tool and function tool ` +
      `through the broker, alternately), a key created, used, revoked and refused every ${r.job.churnEveryMs / 1000} s, ` +
      `a usage read (outbox drain) every ${r.job.drainEveryMs / 1000} s. Machine: ${availableParallelism()} cores, ` +
      `pinned=${pinned}, load average at the end ${loadavg()
        .map((l) => l.toFixed(1))
        .join(" / ")} (shared with other work).`,
    "",
    "| kind | completed | per second | errors | p99 |",
    "| ---- | --------: | ---------: | -----: | --: |",
    ...KINDS.map((k) => {
      const s = r.totals.kinds[k];
      return `| ${k} | ${s.ok} | ${(s.ok / seconds).toFixed(1)} | ${s.errors} | ${s.p99Ms} ms |`;
    }),
    "",
    `Sampled every ${WINDOW_MS / 1000} s: RSS, and the live JavaScript heap after a full collection (through each process's inspector). ` +
      "Slopes are fitted over the second half of the run (after warm-up); a process is growing when the fitted line rises across it by more than max(10 MiB, 5 %).",
    "",
    "| process | RSS first | RSS at half | RSS last | RSS slope, 2nd half | RSS | live heap at half | live heap last | heap slope, 2nd half | heap |",
    "| ------- | --------: | ----------: | -------: | ------------------: | --- | ----------------: | -------------: | -------------------: | ---- |",
    ...Object.entries(r.verdicts).map(([name, v]) => {
      const at = (of: "rss" | "heap", which: "half" | "last" | "first") => {
        const loaded = r.rows.filter((row) => row.line.type === "window");
        const rows = which === "half" ? loaded.filter((row) => row.line.atMs >= r.durationMs / 2) : loaded;
        const values = rows.map((row) => row[of][name]).filter((x): x is number => x !== undefined);
        const x = which === "last" ? values.at(-1) : values[0];
        return x === undefined ? "–" : `${mb(x)} MiB`;
      };
      const slopeOf = (m?: MemoryVerdict) =>
        m?.slopeMbPerMin == null ? "–" : `${m.slopeMbPerMin.toFixed(2)} MiB/min`;
      const h = r.heapVerdicts[name];
      return `| ${name} | ${at("rss", "first")} | ${at("rss", "half")} | ${at("rss", "last")} | ${slopeOf(v)} | ${v.verdict} | ${at("heap", "half")} | ${at("heap", "last")} | ${slopeOf(h)} | ${h?.verdict ?? "–"} |`;
    }),
    "",
    `CPU, mean over the run in % of one core: ${Object.keys(r.verdicts)
      .map((name) => `${name} ${meanOf(r.rows.map((row) => row.cpu[name] ?? 0)).toFixed(0)}`)
      .join(
        ", ",
      )}; everything else on the machine ${meanOf(r.rows.map((row) => row.otherCpu)).toFixed(0)} (of ${availableParallelism() * 100}). ` +
      `Relay's threads were runnable but waiting for a CPU ${meanOf(r.rows.map((row) => row.waiting.relay ?? 0)).toFixed(0)} % of the time.`,
    "",
    `Outbox items queued after the final drain: ${r.outboxLeft}. Worker log: ${r.workerErrors.length} error lines, ${r.workerWarnings} warnings.`,
    ...r.workerErrors.slice(0, 5).map((e) => `- \`${e}\``),
    ...r.totals.errorSamples.slice(0, 10).map((e) => `- ${e}`),
    "",
    r.problems.length
      ? `**FAILED**: ${r.problems.join("; ")}.`
      : "**PASSED**: no errors, no process's memory growing.",
  ];
  return `${lines.join("\n")}\n`;
}

process.exitCode = await main();
