import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SseParser } from "../../common/sse";
import { eventually, type FaultStack, leakedSecrets, sleep, startFaultStack, TOOLS } from "./stack";

// The compute sidecar (local models and the tool broker) is killed and comes back on its port,
// while the Worker's database path stays up.

const localChat = (stack: FaultStack) =>
  stack.call("/v1/chat/completions", {
    method: "POST",
    json: { model: "local:tiny", messages: [{ role: "user", content: "ping" }] },
  });

describe("the sidecar killed and restarted", () => {
  let stack: FaultStack;
  beforeAll(async () => {
    stack = await startFaultStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("fails local-model requests fast while it is down, and a pending tool wait survives", async () => {
    expect((await localChat(stack)).status).toBe(200);

    // A run waits for its tool results when the sidecar dies.
    const res = await fetch(`${stack.base}/v1/runs`, {
      method: "POST",
      headers: { authorization: `Bearer ${stack.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model: `groq:sidecar-${crypto.randomUUID()}`, input: "Weather?", tools: TOOLS }),
    });
    expect(res.status).toBe(200);
    const runId = res.headers.get("x-run-id") as string;
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const parser = new SseParser();
    const decoder = new TextDecoder();
    const events: any[] = [];
    const readUntil = async (done: (e: any) => boolean) => {
      while (!events.some(done)) {
        const { value, done: ended } = await reader.read();
        if (ended) break;
        for (const ev of parser.push(decoder.decode(value, { stream: true })))
          events.push(JSON.parse(ev.data));
      }
    };
    await readUntil((e) => e.type === "tool_call");
    const calls = () => events.filter((e) => e.type === "tool_call");
    await sleep(200);
    await readUntil(() => calls().length === 2);

    await stack.killCompute();

    // Down: every local-model request fails within a second, in the envelope.
    for (let i = 0; i < 5; i++) {
      const started = Date.now();
      const down = await localChat(stack);
      expect(Date.now() - started).toBeLessThan(1000);
      expect([502, 503]).toContain(down.status);
      expect(down.json().error).toMatchObject({ type: expect.any(String), code: expect.any(String) });
      expect(down.json().error.message).toMatch(/sidecar/i);
    }
    // A tool result posted meanwhile is refused clearly (the caller retries), not swallowed.
    const early = await stack.call(`/v1/runs/${runId}/tool-results/${calls()[0].id}`, {
      method: "POST",
      json: { output: "sunny" },
    });
    expect(early.status).toBe(503);
    expect(early.json().error.code).toBe("broker_unavailable");

    await sleep(2000);
    await stack.startCompute();
    for (const call of calls()) {
      const posted = await stack.call(`/v1/runs/${runId}/tool-results/${encodeURIComponent(call.id)}`, {
        method: "POST",
        json: { output: `result of ${call.name}` },
      });
      expect(posted.status, posted.text).toBe(200);
    }
    await readUntil((e) => e.type === "done" || e.type === "error");
    expect(events.at(-1)).toMatchObject({ type: "done" });

    // And local models serve again.
    expect(await eventually(async () => (await localChat(stack)).status === 200, 20_000)).toBe(true);
  });

  it("leaked no secret into any log line, response body or header", () => {
    expect(leakedSecrets(stack)).toEqual([]);
  });
});
