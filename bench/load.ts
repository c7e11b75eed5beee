// The load generator, in its own process (pinned to its own core by the orchestrator). Node runs
// it directly: `node bench/load.ts '<json job>'`. It prints one JSON result line.
// Every response is verified: status 200, and for streams the exact number of SSE events.
import { Pool } from "undici";

interface Job {
  origin: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  stream: boolean;
  expectEvents: number;
}

const job = JSON.parse(process.argv[2] as string) as Job;
const pool = new Pool(job.origin, { connections: job.concurrency, pipelining: 1, keepAliveTimeout: 60_000 });

interface Sample {
  start: number;
  end: number;
  ttfb: number;
}

const samples: Sample[] = [];
let errors = 0;
const errorSamples: string[] = [];
let events = 0;

function fail(msg: string): void {
  errors++;
  if (errorSamples.length < 5) errorSamples.push(msg);
}

/** Counts "\n\n" event terminators across chunk boundaries. */
function countEvents(
  chunk: Buffer,
  prevEndsWithNewline: boolean,
): { count: number; endsWithNewline: boolean } {
  let count = 0;
  let prev = prevEndsWithNewline;
  for (let i = 0; i < chunk.length; i++) {
    const isNl = chunk[i] === 10;
    if (isNl && prev) {
      count++;
      prev = false;
    } else prev = isNl;
  }
  return { count, endsWithNewline: prev };
}

async function one(measureFrom: number): Promise<void> {
  const start = performance.now();
  let ttfb = 0;
  try {
    const res = await pool.request({ path: job.path, method: "POST", headers: job.headers, body: job.body });
    let seen = 0;
    let nl = false;
    let first = true;
    let size = 0;
    for await (const chunk of res.body) {
      if (first) {
        ttfb = performance.now() - start;
        first = false;
      }
      size += (chunk as Buffer).length;
      if (job.stream) {
        const r = countEvents(chunk as Buffer, nl);
        seen += r.count;
        nl = r.endsWithNewline;
      }
    }
    const end = performance.now();
    if (res.statusCode !== 200) return fail(`status ${res.statusCode}`);
    if (job.stream && seen !== job.expectEvents)
      return fail(`expected ${job.expectEvents} events, got ${seen}`);
    if (!job.stream && size === 0) return fail("empty body");
    if (start >= measureFrom) {
      samples.push({ start, end, ttfb });
      if (job.stream) events += seen;
    }
  } catch (err) {
    fail(String(err));
  }
}

const t0 = performance.now();
const measureFrom = t0 + job.warmupMs;
const stopAt = measureFrom + job.durationMs;

await Promise.all(
  Array.from({ length: job.concurrency }, async () => {
    while (performance.now() < stopAt) await one(measureFrom);
  }),
);
await pool.close();

const inWindow = samples.filter((s) => s.end <= stopAt + 5_000);
const latencies = inWindow.map((s) => s.end - s.start).sort((a, b) => a - b);
const ttfbs = inWindow.map((s) => s.ttfb).sort((a, b) => a - b);
const pct = (list: number[], p: number) =>
  list.length ? (list[Math.min(list.length - 1, Math.floor((p / 100) * list.length))] as number) : 0;
const windowMs = Math.max(...inWindow.map((s) => s.end), measureFrom) - measureFrom;

process.stdout.write(
  `${JSON.stringify({
    requests: inWindow.length,
    errors,
    errorSamples,
    events,
    windowMs,
    rps: inWindow.length / (windowMs / 1000),
    p50: pct(latencies, 50),
    p99: pct(latencies, 99),
    ttfbP50: pct(ttfbs, 50),
    ttfbP99: pct(ttfbs, 99),
    clientCpuMs: (process.cpuUsage().user + process.cpuUsage().system) / 1000,
  })}\n`,
);
