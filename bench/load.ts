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
  /** Record the time between reads that complete an event (paced streams: the inter-token delay). */
  gaps: boolean;
  /** Connections start spread over this long, so that long streams do not all start (and end) together. */
  staggerMs: number;
}

const job = JSON.parse(process.argv[2] as string) as Job;
const pool = new Pool(job.origin, { connections: job.concurrency, pipelining: 1, keepAliveTimeout: 60_000 });

interface Sample {
  start: number;
  end: number;
  ttfb: number;
}

const samples: Sample[] = [];
const gaps: number[] = [];
let errors = 0;
const errorSamples: string[] = [];
let events = 0;
let reads = 0;

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
  const ownGaps: number[] = [];
  try {
    const res = await pool.request({ path: job.path, method: "POST", headers: job.headers, body: job.body });
    let seen = 0;
    let nl = false;
    let first = true;
    let size = 0;
    let lastEventAt = 0;
    let ownReads = 0;
    for await (const chunk of res.body) {
      const now = performance.now();
      ownReads++;
      if (first) {
        ttfb = now - start;
        first = false;
      }
      size += (chunk as Buffer).length;
      if (job.stream) {
        const r = countEvents(chunk as Buffer, nl);
        seen += r.count;
        nl = r.endsWithNewline;
        if (job.gaps && r.count > 0) {
          if (lastEventAt) ownGaps.push(now - lastEventAt);
          lastEventAt = now;
        }
      }
    }
    const end = performance.now();
    if (res.statusCode !== 200) return fail(`status ${res.statusCode}`);
    if (job.stream && seen !== job.expectEvents)
      return fail(`expected ${job.expectEvents} events, got ${seen}`);
    if (!job.stream && size === 0) return fail("empty body");
    if (start >= measureFrom) {
      samples.push({ start, end, ttfb });
      if (job.stream) {
        events += seen;
        reads += ownReads;
      }
      for (const g of ownGaps) gaps.push(g);
    }
  } catch (err) {
    fail(String(err));
  }
}

const t0 = performance.now();
const cpu0 = process.cpuUsage();
const measureFrom = t0 + job.warmupMs;
const stopAt = measureFrom + job.durationMs;

await Promise.all(
  Array.from({ length: job.concurrency }, async (_, i) => {
    if (job.staggerMs) await new Promise((r) => setTimeout(r, (i * job.staggerMs) / job.concurrency));
    // At least one request per connection, so that a zero duration means "one each".
    do {
      await one(measureFrom);
    } while (performance.now() < stopAt);
  }),
);
await pool.close();
const loadMs = performance.now() - t0;
const loadCpu = process.cpuUsage(cpu0);

const inWindow = samples.filter((s) => s.end <= stopAt + 5_000);
const latencies = inWindow.map((s) => s.end - s.start).sort((a, b) => a - b);
const ttfbs = inWindow.map((s) => s.ttfb).sort((a, b) => a - b);
const sortedGaps = Float64Array.from(gaps).sort();
const pct = (list: ArrayLike<number>, p: number) =>
  list.length ? (list[Math.min(list.length - 1, Math.floor((p / 100) * list.length))] as number) : 0;
// A loop, not Math.max(...): a fast cell has hundreds of thousands of samples, past the stack's room for arguments.
const windowMs = inWindow.reduce((last, s) => Math.max(last, s.end), measureFrom) - measureFrom;

process.stdout.write(
  `${JSON.stringify({
    requests: inWindow.length,
    errors,
    errorSamples,
    events,
    reads,
    windowMs,
    rps: windowMs ? inWindow.length / (windowMs / 1000) : 0,
    p50: pct(latencies, 50),
    p99: pct(latencies, 99),
    ttfbP50: pct(ttfbs, 50),
    ttfbP99: pct(ttfbs, 99),
    gaps: sortedGaps.length,
    gapP50: pct(sortedGaps, 50),
    gapP99: pct(sortedGaps, 99),
    // The load itself (the core's share), and the whole process with its start-up (the machine's).
    loadMs,
    loadCpuMs: (loadCpu.user + loadCpu.system) / 1000,
    clientCpuMs: (process.cpuUsage().user + process.cpuUsage().system) / 1000,
  })}\n`,
);
