import { SseParser } from "../common/sse";

// The broker's wake-up latency (issue 12): concurrent agent runs whose model (the mock's
// `bench-tool`) calls one custom tool; the client posts the result the moment it sees the
// `tool_call`, and the mock stamps when the follow-up model call reached it. The difference is
// "result POSTed → the next model call leaves relay" (plus one loopback hop to the mock): the
// result's POST through the Worker, the broker's Redis write and wake, the long-poll's answer to
// the waiting run, and the run building and sending its next call. Both stamps are the machine's
// clock read through `performance` (microseconds), in two processes on one host.

export interface BrokerResult {
  runs: number;
  concurrency: number;
  errors: number;
  errorSamples: string[];
  wakeP50: number;
  wakeP99: number;
  wakeMax: number;
}

const now = () => performance.timeOrigin + performance.now();

const RUN_BODY = JSON.stringify({
  model: "openai:bench-tool",
  input: "Look it up.",
  tools: [
    {
      kind: "function",
      name: "lookup",
      description: "Looks something up",
      inputSchema: { type: "object", properties: {} },
    },
  ],
  maxIterations: 2,
});

/** One run: returns the wake-up in ms, or throws with what went wrong. */
async function oneRun(origin: string, apiKey: string): Promise<number> {
  const headers = { authorization: `Bearer ${apiKey}`, "content-type": "application/json" };
  const res = await fetch(`${origin}/v1/runs`, { method: "POST", headers, body: RUN_BODY });
  const runId = res.headers.get("x-run-id");
  if (res.status !== 200 || !res.body || !runId)
    throw new Error(`POST /v1/runs ${res.status}: ${await res.text()}`);
  const parser = new SseParser();
  const decoder = new TextDecoder();
  let postedAt = 0;
  let posting: Promise<Response> | null = null;
  let output = "";
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    for (const event of parser.push(decoder.decode(value, { stream: true }))) {
      const data = JSON.parse(event.data) as { type: string; id?: string; output?: string; message?: string };
      if (data.type === "tool_call") {
        postedAt = now();
        posting = fetch(`${origin}/v1/runs/${runId}/tool-results/${data.id}`, {
          method: "POST",
          headers,
          body: JSON.stringify({ output: { found: true } }),
        });
      } else if (data.type === "done") output = data.output ?? "";
      else if (data.type === "error") throw new Error(`run error: ${data.message}`);
    }
  }
  const posted = await posting;
  if (!posted?.ok) throw new Error(`tool result ${posted?.status}: ${await posted?.text()}`);
  const woke = /^woke ([\d.]+)$/.exec(output);
  if (!woke) throw new Error(`unexpected answer: ${output.slice(0, 80)}`);
  return Number(woke[1]) - postedAt;
}

/** `concurrency` clients each running runs back to back until `runs` have been started. */
export async function measureBrokerWakeUp(opts: {
  origin: string;
  apiKey: string;
  concurrency: number;
  runs: number;
}): Promise<BrokerResult> {
  const wakes: number[] = [];
  const errorSamples: string[] = [];
  let errors = 0;
  let started = 0;
  const client = async () => {
    while (started < opts.runs) {
      started++;
      try {
        wakes.push(await oneRun(opts.origin, opts.apiKey));
      } catch (err) {
        errors++;
        if (errorSamples.length < 3) errorSamples.push(String((err as Error).message ?? err));
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, client));
  wakes.sort((a, b) => a - b);
  const pct = (p: number) => wakes[Math.min(wakes.length - 1, Math.floor((p / 100) * wakes.length))] ?? NaN;
  return {
    runs: wakes.length,
    concurrency: opts.concurrency,
    errors,
    errorSamples,
    wakeP50: pct(50),
    wakeP99: pct(99),
    wakeMax: wakes.at(-1) ?? NaN,
  };
}
