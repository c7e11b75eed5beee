import { mkdirSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import type { BrokerResult } from "./broker";
import type { Run } from "./measure";
import {
  JSON_C1,
  JSON_C50,
  PACED_ANTHROPIC,
  PACED_OPENAI,
  type Scenario,
  SSE_ANTHROPIC,
  SSE_OPENAI,
  TARGETS,
  type TargetName,
  TOKENS,
  upstreamEvents,
} from "./scenarios";

export interface RunInfo {
  started: Date;
  quick: boolean;
  reps: number;
  warmupMs: number;
  runMs: number;
  pacedRunMs: number;
  pinned: boolean;
  scenarios: readonly Scenario[];
  /** The broker's wake-up latency (bench/broker.ts), when it was measured. */
  broker?: BrokerResult;
}

/** Postgres activity during the measured runs of the relay cells. */
export interface DbCount {
  requests: number;
  xacts: number;
  sessions: number;
}

export interface Summary {
  rps: number;
  rpsSpread: number;
  p50: number;
  p99: number;
  ttfbP50: number;
  ttfbP99: number;
  gapP50: number | null;
  gapP99: number | null;
  readsPerStream: number | null;
  cpuUsPerRequest: number | null;
  cpuUsPerEvent: number | null;
  peakRssMb: number | null;
  clientCoreBusyPct: number;
  errors: number;
  otherBusyPct: number;
  /** Redis per request (relay cells): round trips, those of the limits, scripts, usage pushes. */
  redisRoundTrips: number | null;
  redisLimitsRoundTrips: number | null;
  redisScripts: number | null;
  redisPushes: number | null;
}

/** results[scenario][target]: the runs of one cell. */
export type Results = Record<string, Partial<Record<TargetName, Run[]>>>;

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.floor(s.length / 2)] as number) : 0;
};
const spread = (xs: number[]) => {
  const m = median(xs);
  return m ? ((Math.max(...xs) - Math.min(...xs)) / m) * 100 : 0;
};

export function summarise(runs: Run[]): Summary {
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
    ttfbP99: median(runs.map((r) => r.ttfbP99)),
    gapP50: pick((r) => (r.gaps ? r.gapP50 : null)),
    gapP99: pick((r) => (r.gaps ? r.gapP99 : null)),
    readsPerStream: pick((r) => (r.events && r.requests ? r.reads / r.requests : null)),
    cpuUsPerRequest: pick((r) => r.cpuUsPerRequest),
    cpuUsPerEvent: pick((r) => r.cpuUsPerEvent),
    peakRssMb: pick((r) => r.peakRssMb),
    clientCoreBusyPct: Math.max(...runs.map((r) => r.clientCoreBusyPct)),
    errors: runs.reduce((t, r) => t + r.errors, 0),
    otherBusyPct: Math.max(...runs.map((r) => r.otherBusyPct)),
    redisRoundTrips: pick((r) => r.redisPerRequest?.roundTrips ?? null),
    redisLimitsRoundTrips: pick((r) => r.redisPerRequest?.limitsRoundTrips ?? null),
    redisScripts: pick((r) => r.redisPerRequest?.scripts ?? null),
    redisPushes: pick((r) => r.redisPerRequest?.pushes ?? null),
  };
}

type Summaries = Record<string, Partial<Record<TargetName, Summary>>>;

const fmt = (n: number | null | undefined, digits = 2) =>
  n === null || n === undefined || Number.isNaN(n) ? "–" : n.toFixed(digits);
const diff = (a: number | null | undefined, b: number | null | undefined) =>
  a === null || a === undefined || b === null || b === undefined ? null : a - b;
const ratio = (a: number | null | undefined, b: number | null | undefined) =>
  a === null || a === undefined || !b ? null : a / b;

interface Goal {
  goal: string;
  cell: string;
  value: number | null;
  /** Shown after the value (what it was computed from). */
  detail?: string;
  target: string;
  met: (v: number) => boolean;
  digits: number;
}

/** The issue 11 goals, each against the cell it is measured in. */
function goals(s: Summaries, db: DbCount): Goal[] {
  const get = (sc: Scenario, t: TargetName) => s[sc.name]?.[t];
  // Pass-throughs should sit nearer the native pipe than a JS transform; a route that must change
  // the bytes should cost no more than the JS transform.
  const routes = [
    {
      route: "OpenAI-compatible route",
      target: "relay-openai",
      sse: SSE_OPENAI,
      paced: PACED_OPENAI,
      cpu: 0.5,
      streams: 2,
    },
    {
      route: "OpenAI-compatible route, client asks for usage",
      target: "relay-openai-usage",
      sse: SSE_OPENAI,
      paced: PACED_OPENAI,
      cpu: 0.5,
      streams: 2,
    },
    {
      route: "Anthropic pass-through",
      target: "relay-anthropic",
      sse: SSE_ANTHROPIC,
      paced: PACED_ANTHROPIC,
      cpu: 0.5,
      streams: 2,
    },
    {
      route: "Translated route (Anthropic → OpenAI)",
      target: "relay-translate",
      sse: SSE_ANTHROPIC,
      paced: PACED_ANTHROPIC,
      cpu: 1.0,
      streams: null,
    },
  ] as const;
  const out: Goal[] = [];
  for (const r of routes) {
    out.push({
      goal: `${r.route}: CPU per upstream event ÷ bare+js`,
      cell: r.sse.name,
      value: ratio(get(r.sse, r.target)?.cpuUsPerEvent, get(r.sse, "bare+js")?.cpuUsPerEvent),
      target: `≤ ${r.cpu.toFixed(1)}`,
      met: (v) => v <= r.cpu,
      digits: 2,
    });
    const streams = r.streams;
    if (streams !== null)
      out.push({
        goal: `${r.route}: streams/s ÷ bare+js`,
        cell: r.sse.name,
        value: ratio(get(r.sse, r.target)?.rps, get(r.sse, "bare+js")?.rps),
        target: `≥ ${streams}`,
        met: (v) => v >= streams,
        digits: 2,
      });
  }
  for (const r of routes) {
    out.push({
      goal: `${r.route}: TTFB p50, relay − bare (ms)`,
      cell: r.paced.name,
      value: diff(get(r.paced, r.target)?.ttfbP50, get(r.paced, "bare")?.ttfbP50),
      target: "≤ 1",
      met: (v) => v <= 1,
      digits: 2,
    });
    out.push({
      goal: `${r.route}: inter-token delay p50, relay − bare (ms)`,
      cell: r.paced.name,
      value: diff(get(r.paced, r.target)?.gapP50, get(r.paced, "bare")?.gapP50),
      target: "≤ 1",
      met: (v) => v <= 1,
      digits: 2,
    });
  }
  // Issue 13: a key under a policy (every limit on, none hit) beside one without.
  for (const sc of [JSON_C50, JSON_C1, SSE_OPENAI]) {
    out.push({
      goal: "CPU per request, relay with a key under a policy ÷ without",
      cell: sc.name,
      value: ratio(get(sc, "relay-limited")?.cpuUsPerRequest, get(sc, "relay-openai")?.cpuUsPerRequest),
      target: "≤ 1.15",
      met: (v) => v <= 1.15,
      digits: 2,
    });
  }
  // Issue 14: pii-redact during_call on the stream, beside the plain relay stream.
  out.push({
    goal: "pii-redact during_call stream: CPU per upstream event ÷ relay-openai",
    cell: SSE_OPENAI.name,
    value: ratio(get(SSE_OPENAI, "relay-pii")?.cpuUsPerEvent, get(SSE_OPENAI, "relay-openai")?.cpuUsPerEvent),
    target: "≤ 1.5",
    met: (v) => v <= 1.5,
    digits: 2,
  });
  for (const sc of [JSON_C50, JSON_C1]) {
    out.push({
      goal: "Redis round trips per request for the limits, key under a policy",
      cell: sc.name,
      value: get(sc, "relay-limited")?.redisLimitsRoundTrips ?? null,
      target: "1 (≤ 1.05)",
      met: (v) => v <= 1.05,
      digits: 3,
    });
  }
  out.push({
    goal: "Redis round trips per request for the limits, key without a policy",
    cell: JSON_C50.name,
    value: get(JSON_C50, "relay-openai")?.redisLimitsRoundTrips ?? null,
    target: "0",
    met: (v) => v === 0,
    digits: 3,
  });
  out.push({
    goal: "JSON req/s, relay ÷ bare",
    cell: JSON_C50.name,
    value: ratio(get(JSON_C50, "relay-openai")?.rps, get(JSON_C50, "bare")?.rps),
    target: "≥ 0.75",
    met: (v) => v >= 0.75,
    digits: 2,
  });
  // Memory under the same load: each relay cell against bare's in the same scenario; the worst counts.
  let worst: { value: number; where: string } | null = null;
  for (const [scenario, byTarget] of Object.entries(s)) {
    for (const [t, m] of Object.entries(byTarget) as [TargetName, Summary][]) {
      if (TARGETS[t].server !== "relay") continue;
      const v = ratio(m.peakRssMb, byTarget.bare?.peakRssMb);
      if (v !== null && (!worst || v > worst.value)) worst = { value: v, where: `${t}, ${scenario}` };
    }
  }
  out.push({
    goal: "Peak RSS, relay ÷ bare under the same load (worst cell)",
    cell: worst?.where ?? "–",
    value: worst?.value ?? null,
    target: "≤ 1.3",
    met: (v) => v <= 1.3,
    digits: 2,
  });
  out.push({
    goal: "Postgres transactions per relay request, after warm-up",
    cell: "every relay cell",
    value: db.requests ? db.xacts / db.requests : null,
    detail: `${db.xacts} over ${db.requests} requests, ${db.sessions} sessions`,
    target: "≈ 0 (none on the critical path)",
    met: (v) => v < 0.01,
    digits: 4,
  });
  return out;
}

function brokerSection(b: BrokerResult | undefined): string {
  if (!b) return "";
  return `\n### Agent runs: the broker's wake-up\n\n${b.concurrency} concurrent agent runs, ${b.runs} measured, each calling one custom tool whose result the client posts the moment it sees the \`tool_call\`. Wake-up: from posting the result to the mock upstream receiving the run's next model call (POST through the Worker, the broker's Redis write and wake, the long-poll's answer, the next call built and sent). The sidecar shares CPU 1 with the load generator and the mock.\n\n| runs at once | runs | wake-up p50 ms | p99 ms | max ms | errors |\n|---|---|---|---|---|---|\n| ${b.concurrency} | ${b.runs} | ${fmt(b.wakeP50)} | ${fmt(b.wakeP99)} | ${fmt(b.wakeMax)} | ${b.errors} |\n`;
}

/** Writes <outDir>/bench-<stamp>.{json,md} and latest.md; returns the markdown and the files' stem. */
export function report(
  info: RunInfo,
  results: Results,
  db: DbCount,
  outDir: string,
): { markdown: string; stem: string } {
  const s: Summaries = {};
  for (const [scenario, byTarget] of Object.entries(results)) {
    s[scenario] = Object.fromEntries(
      Object.entries(byTarget).map(([t, runs]) => [t, summarise(runs as Run[])]),
    );
  }

  const rows = [
    "| scenario | target | req/s (spread) | p50 ms | p99 ms | TTFB p50 ms | p50 − direct ms | reads/stream | CPU µs/req | CPU µs/upstream event | peak RSS MB | CPU 1 busy % | errors |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  const paced = [
    "| scenario | target | TTFB p50 ms | TTFB p99 ms | inter-token p50 ms | inter-token p99 ms | TTFB p50 − bare | inter-token p50 − bare | inter-token p99 − bare |",
    "|---|---|---|---|---|---|---|---|---|",
  ];
  const saturated: string[] = [];
  for (const [scenario, byTarget] of Object.entries(s)) {
    const direct = byTarget.direct;
    const bare = byTarget.bare;
    for (const [target, m] of Object.entries(byTarget) as [TargetName, Summary][]) {
      rows.push(
        `| ${scenario} | ${target} | ${m.rps.toFixed(0)} (±${m.rpsSpread.toFixed(0)}%) | ${fmt(m.p50)} | ${fmt(m.p99)} | ${fmt(m.ttfbP50)} | ${target === "direct" ? "–" : fmt(diff(m.p50, direct?.p50))} | ${fmt(m.readsPerStream, 0)} | ${fmt(m.cpuUsPerRequest, 0)} | ${fmt(m.cpuUsPerEvent, 1)} | ${fmt(m.peakRssMb, 0)} | ${m.clientCoreBusyPct.toFixed(0)} | ${m.errors} |`,
      );
      if (m.clientCoreBusyPct >= 90) saturated.push(`${target} in ${scenario}`);
      if (m.gapP50 === null) continue;
      const vsBare = (v: number | null, b: number | null | undefined) =>
        target === "bare" ? "–" : fmt(diff(v, b));
      paced.push(
        `| ${scenario} | ${target} | ${fmt(m.ttfbP50)} | ${fmt(m.ttfbP99)} | ${fmt(m.gapP50)} | ${fmt(m.gapP99)} | ${vsBare(m.ttfbP50, bare?.ttfbP50)} | ${vsBare(m.gapP50, bare?.gapP50)} | ${vsBare(m.gapP99, bare?.gapP99)} |`,
      );
    }
  }

  const redisRows = [
    "| scenario | target | CPU µs/req | Redis round trips/req | of them limits | limits scripts/req | usage pushes/req |",
    "|---|---|---|---|---|---|---|",
  ];
  for (const [scenario, byTarget] of Object.entries(s)) {
    for (const target of ["relay-openai", "relay-limited"] as const) {
      const m = byTarget[target];
      if (!m || !byTarget["relay-limited"]) continue;
      redisRows.push(
        `| ${scenario} | ${target} | ${fmt(m.cpuUsPerRequest, 0)} | ${fmt(m.redisRoundTrips, 3)} | ${fmt(m.redisLimitsRoundTrips, 3)} | ${fmt(m.redisScripts, 2)} | ${fmt(m.redisPushes, 3)} |`,
      );
    }
  }

  const goalRows = ["| goal | cell | measured | goal | met |", "|---|---|---|---|---|"];
  for (const g of goals(s, db)) {
    const shown = g.value === null ? "–" : `${g.value.toFixed(g.digits)}${g.detail ? ` (${g.detail})` : ""}`;
    const met = g.value === null ? "–" : g.met(g.value) ? "yes" : "**no**";
    goalRows.push(`| ${g.goal} | ${g.cell} | ${shown} | ${g.target} | ${met} |`);
  }

  const busiest = Math.max(
    0,
    ...Object.values(s).flatMap((b) => Object.values(b).map((m) => m.otherBusyPct)),
  );
  const notes = [
    `Run ${info.started.toISOString()}, ${info.quick ? "quick" : "full"} mode, ${info.reps} runs of ${info.runMs} ms per cell after a ${info.warmupMs} ms warm-up (paced cells: runs of ${info.pacedRunMs} ms, connections starting over the first half-second, after one stream per connection); medians, spread = (max−min)/median.`,
    info.pinned
      ? "workerd (relay and bare, one process each) pinned to CPU 0; load generator, mock upstream and sidecar pinned to CPU 1."
      : "Only one CPU: nothing is pinned, and the numbers include the load generator's share.",
    `The mock upstream writes one SSE event per write, each handed to the kernel before the next (${upstreamEvents("openai")} per OpenAI stream: role, ${TOKENS} tokens, finish, usage, [DONE]; ${upstreamEvents("anthropic")} per Anthropic stream); "10ms" waits 10 ms before each token; "one write" is the old shape, kept as an extra. Bare, bare+js and direct get the same upstream stream as the relay targets of their scenario.`,
    "CPU is the serving workerd's, per request or stream and per event the upstream sent. Clients of relay do not ask for usage: relay-openai receives one event fewer than upstream sends (the usage chunk relay asked for); relay-openai-usage asks for usage and receives every event, relay-translate receives role, tokens, finish and [DONE]; every response is checked for its exact count.",
    "Reads/stream: body reads at the client per stream, against the events the target sends: how far events were batched on the way. Inter-token delay: the time between reads that complete an event at the client, over every stream of the paced cells.",
    `Other processes used up to ${busiest.toFixed(0)}% of the machine during a run${busiest > 10 ? " — **the machine was busy; treat these numbers with care**" : ""}.`,
    saturated.length
      ? `CPU 1 (load generator, mock, sidecar) was at least 90% busy in: ${saturated.join("; ")} — their req/s is bounded by the client side, not by the server measured.`
      : "CPU 1 (load generator, mock, sidecar) stayed below 90% busy in every cell.",
  ];
  const markdown = `## Benchmark\n\n${notes.map((n) => `- ${n}`).join("\n")}\n\n${rows.join("\n")}\n\n### At 10 ms pacing: latency added\n\n${paced.join("\n")}\n\n### A key under a policy (every limit on, none hit) beside one without\n\nCounted by the sidecar's Redis front during each run (\`GET /redis/stats\`; it serves only the bench's relay). A limited request's one round trip is its admission, whose EVALSHA also settles the key's requests that ended before it; settlements no admission carried within 50 ms go on their own (scripts/req above 1 counts them, batched); usage pushes are batched per isolate.\n\n${redisRows.join("\n")}\n\n### Goals\n\n${goalRows.join("\n")}\n${brokerSection(info.broker)}`;

  mkdirSync(outDir, { recursive: true });
  const stamp = info.started.toISOString().replace(/[:.]/g, "-");
  writeFileSync(
    resolve(outDir, `bench-${stamp}.json`),
    JSON.stringify(
      {
        ...info,
        scenarios: info.scenarios.map((sc) => sc.name),
        summary: s,
        goals: goals(s, db).map(({ met, ...g }) => ({ ...g, met: g.value === null ? null : met(g.value) })),
        raw: results,
        db,
      },
      null,
      2,
    ),
  );
  writeFileSync(resolve(outDir, `bench-${stamp}.md`), markdown);
  writeFileSync(resolve(outDir, "latest.md"), markdown);
  return { markdown, stem: `bench-${stamp}` };
}
