import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { ROOT } from "../scripts/lib/env";
import type { LoadRequest } from "./scenarios";
import { cpuNs, rssKb } from "./workerd";

/** What bench/load.ts reads from its command line. */
export interface LoadJob extends LoadRequest {
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  stream: boolean;
  expectEvents: number;
  gaps: boolean;
  staggerMs: number;
}

/** What bench/load.ts prints. */
export interface LoadResult {
  requests: number;
  errors: number;
  errorSamples: string[];
  events: number;
  /** Body reads at the client over the streams measured: how far events were batched on the way. */
  reads: number;
  rps: number;
  p50: number;
  p99: number;
  ttfbP50: number;
  ttfbP99: number;
  gaps: number;
  gapP50: number;
  gapP99: number;
  loadMs: number;
  loadCpuMs: number;
  clientCpuMs: number;
}

/** One measured run of one cell. */
export interface Run extends LoadResult {
  /** The serving process's CPU per request or stream, and per event the upstream sent. */
  cpuUsPerRequest: number | null;
  cpuUsPerEvent: number | null;
  peakRssMb: number | null;
  /** How busy the load generator's core was (load generator, mock, sidecar): near 100, a client-side limit. */
  clientCoreBusyPct: number;
  /** Share of the machine (all CPUs) none of the benchmark's processes account for. */
  otherBusyPct: number;
  /** Redis traffic per request during the run (relay cells). */
  redisPerRequest?: RedisPerRequest;
}

/** Counted by the sidecar's Redis front, which serves only the bench's relay. */
export interface RedisPerRequest {
  /** HTTP round trips to the Redis front, what a Redis call costs the Worker. */
  roundTrips: number;
  /** Round trips that carried the limits scripts (EVALSHA/EVAL first). */
  limitsRoundTrips: number;
  /** EVALSHA and EVAL commands. */
  scripts: number;
  /** RPUSH round trips: usage batches. */
  pushes: number;
}

export interface Processes {
  /** The process serving the target, or null for the direct path. */
  server: number | null;
  /** The other long-lived processes on the load generator's core (mock, sidecar). */
  clientCore: number[];
  /** Every long-lived process of the benchmark. */
  all: number[];
}

const NODE = process.execPath;

function machineJiffies(): { busy: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] as string;
  const v = line.split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

const sumCpuNs = (pids: number[]) => pids.reduce((t, p) => t + cpuNs(p), 0);

export function runLoad(job: LoadJob, wrap: string[]): Promise<LoadResult> {
  return new Promise((resolvePromise, reject) => {
    const cmd = [...wrap, NODE, "--no-warnings", resolve(ROOT, "bench/load.ts"), JSON.stringify(job)];
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

/**
 * One run of the load generator, with the serving process's CPU (schedstat, all threads) and peak
 * RSS around it. `upstreamEvents` (null for JSON) turns CPU per stream into CPU per upstream event.
 */
export async function measureRun(
  job: LoadJob,
  wrap: string[],
  procs: Processes,
  upstreamEvents: number | null,
): Promise<Run> {
  const cpu0 = procs.server ? cpuNs(procs.server) : 0;
  const machine0 = machineJiffies();
  const ours0 = sumCpuNs(procs.all);
  const clientCore0 = sumCpuNs(procs.clientCore);
  let peak = 0;
  const sampler = setInterval(() => {
    if (procs.server) peak = Math.max(peak, rssKb(procs.server));
  }, 100);
  const r = await runLoad(job, wrap).finally(() => clearInterval(sampler));
  const cpuUs = procs.server ? (cpuNs(procs.server) - cpu0) / 1000 : null;
  const machine1 = machineJiffies();
  // The mock and the sidecar idle outside the load generator's window: their CPU is the window's.
  const clientCoreMs = (sumCpuNs(procs.clientCore) - clientCore0) / 1e6 + r.loadCpuMs;
  // CPU the machine spent that none of the benchmark's processes account for (jiffies = 10 ms).
  const busyMs = (machine1.busy - machine0.busy) * 10;
  const oursMs = (sumCpuNs(procs.all) - ours0) / 1e6 + r.clientCpuMs;
  const machineMs = (machine1.total - machine0.total) * 10; // every CPU's time
  const done = r.requests + r.errors;
  return {
    ...r,
    cpuUsPerRequest: cpuUs !== null && done ? cpuUs / done : null,
    cpuUsPerEvent: cpuUs !== null && upstreamEvents && done ? cpuUs / (done * upstreamEvents) : null,
    peakRssMb: procs.server ? peak / 1024 : null,
    clientCoreBusyPct: r.loadMs ? (clientCoreMs / r.loadMs) * 100 : 0,
    otherBusyPct: machineMs ? Math.max(0, ((busyMs - oursMs) / machineMs) * 100) : 0,
  };
}
