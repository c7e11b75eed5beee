import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { createAgent, RelayError, RunError, type RunEvent } from "../../sdk/src/index";
import { FakeRelay } from "../mocks/fake-relay";

let relay: FakeRelay;

beforeAll(async () => {
  relay = await FakeRelay.start();
});

afterAll(async () => {
  await relay.close();
});

afterEach(() => {
  relay.script = async (r) => r.done("");
  relay.reject = null;
  relay.faults = [];
  relay.holdPostsUntil = 0;
  relay.peakPosts = 0;
  relay.requests.length = 0;
  vi.unstubAllEnvs();
});

const agentOptions = () => ({ baseUrl: relay.url, apiKey: relay.apiKey, model: "claude-sonnet-4-6" });

async function collect(iterable: AsyncIterable<RunEvent>): Promise<RunEvent[]> {
  const events: RunEvent[] = [];
  for await (const event of iterable) events.push(event);
  return events;
}

/** Resolves once `count` callers have arrived; rejects after 3 s, so work done one after another fails. */
function barrier(count: number) {
  let arrived = 0;
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return async () => {
    arrived++;
    if (arrived >= count) open();
    await Promise.race([
      opened,
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error(`only ${arrived} of ${count} arrived`)), 3_000),
      ),
    ]);
  };
}

const postedOutput = (toolUseId: string) =>
  relay
    .posts()
    .filter((p) => p.path.endsWith(`/tool-results/${encodeURIComponent(toolUseId)}`))
    .map((p) => p.body);

describe("a run with two tools in one turn", () => {
  it("streams the events, runs both handlers and posts both results concurrently, then resolves", async () => {
    relay.holdPostsUntil = 2;
    relay.script = async (r) => {
      r.token("Let me ");
      r.token("check.");
      const outputs = await r.toolCalls([
        { id: "toolu_1", name: "getWeather", input: { city: "Paris" } },
        { id: "toolu/2 ?", name: "getTime", input: { zone: "Europe/Rome" } },
      ]);
      r.token(`Paris: ${JSON.stringify(outputs.toolu_1)}`);
      r.done("Sunny in Paris, noon in Rome.", { input_tokens: 42, output_tokens: 17 });
    };
    const bothStarted = barrier(2);
    const seen: { name: string; runId: string; toolUseId: string; aborted: boolean }[] = [];
    const agent = createAgent({
      ...agentOptions(),
      system: "Be brief.",
      tools: {
        getWeather: {
          description: "Weather for a city",
          inputSchema: z.object({ city: z.string(), unit: z.enum(["c", "f"]).default("c") }),
          handler: async ({ city, unit }, ctx) => {
            seen.push({
              name: "getWeather",
              runId: ctx.runId,
              toolUseId: ctx.toolUseId,
              aborted: ctx.signal.aborted,
            });
            await bothStarted();
            return { city, unit, sky: "sunny" };
          },
        },
        getTime: {
          description: "Time in a zone",
          inputSchema: {
            type: "object",
            properties: { zone: { type: "string" } },
            required: ["zone"],
            additionalProperties: false,
          },
          handler: async (input: { zone: string }, ctx) => {
            seen.push({
              name: "getTime",
              runId: ctx.runId,
              toolUseId: ctx.toolUseId,
              aborted: ctx.signal.aborted,
            });
            await bothStarted();
            return `12:00 in ${input.zone}`;
          },
        },
      },
    });

    const run = agent.run("Weather in Paris and time in Rome?", { maxIterations: 4, temperature: 0.2 });
    const events = await collect(run);
    const result = await run.result();

    const server = relay.runs.get(result.runId);
    expect(server).toBeDefined();
    if (!server) return;
    // The caller sees exactly what relay sent, in order, tool_call and tool_result included.
    expect(events).toEqual(server.sent);
    expect(events.map((e) => e.type)).toEqual([
      "token",
      "token",
      "tool_call",
      "tool_call",
      "tool_result",
      "tool_result",
      "token",
      "done",
    ]);
    expect(result).toEqual({
      runId: server.id,
      workflowId: server.workflowId,
      output: "Sunny in Paris, noon in Rome.",
      usage: { input_tokens: 42, output_tokens: 17 },
    });
    expect(run.runId).toBe(server.id);
    expect(run.workflowId).toBe(server.workflowId);
    expect(run.lastEventId).toBe(String(server.sent.length));
    expect(await run.ready()).toEqual({ runId: server.id, workflowId: server.workflowId });

    // Both handlers were running at once, and both posts were in flight at once.
    expect(seen.map((s) => s.name).sort()).toEqual(["getTime", "getWeather"]);
    expect(seen.every((s) => s.runId === server.id && !s.aborted)).toBe(true);
    expect(seen.find((s) => s.name === "getTime")?.toolUseId).toBe("toolu/2 ?");
    expect(relay.peakPosts).toBe(2);
    expect(postedOutput("toolu_1")).toEqual([{ output: { city: "Paris", unit: "c", sky: "sunny" } }]);
    expect(postedOutput("toolu/2 ?")).toEqual([{ output: "12:00 in Europe/Rome" }]);

    // The request relay got: the key, the model, the tools as JSON Schema, the run options.
    const start = relay.requests.find((r) => r.path === "/v1/runs");
    expect(start?.headers.authorization).toBe(`Bearer ${relay.apiKey}`);
    expect(start?.headers.accept).toBe("text/event-stream");
    expect(start?.body).toEqual({
      model: "claude-sonnet-4-6",
      input: "Weather in Paris and time in Rome?",
      system: "Be brief.",
      maxIterations: 4,
      temperature: 0.2,
      tools: [
        {
          kind: "function",
          name: "getWeather",
          description: "Weather for a city",
          inputSchema: {
            $schema: "https://json-schema.org/draft/2020-12/schema",
            type: "object",
            properties: {
              city: { type: "string" },
              unit: { type: "string", enum: ["c", "f"], default: "c" },
            },
            // The model writes the schema's input, where a defaulted field may be left out.
            required: ["city"],
          },
        },
        {
          kind: "function",
          name: "getTime",
          description: "Time in a zone",
          inputSchema: {
            type: "object",
            properties: { zone: { type: "string" } },
            required: ["zone"],
            additionalProperties: false,
          },
        },
      ],
    });
  });

  it("is driven by result() alone, with nobody iterating", async () => {
    relay.script = async (r) => {
      const outputs = await r.toolCalls([{ id: "c1", name: "add", input: { a: 2, b: 3 } }]);
      r.done(`sum ${outputs.c1}`, { input_tokens: 1, output_tokens: 1 });
    };
    const agent = createAgent({
      ...agentOptions(),
      tools: {
        add: {
          description: "Adds",
          inputSchema: z.object({ a: z.number(), b: z.number() }),
          handler: ({ a, b }) => a + b,
        },
      },
    });
    const result = await agent
      .run([{ role: "user", content: "2+3?" }], { parentRunId: "run_parent" })
      .result();
    expect(result.output).toBe("sum 5");
    expect(postedOutput("c1")).toEqual([{ output: 5 }]);
    const start = relay.requests.find((r) => r.path === "/v1/runs");
    expect(start?.body.input).toEqual([{ role: "user", content: "2+3?" }]);
    expect(start?.body.parentRunId).toBe("run_parent");
  });
});

describe("tool calls that cannot be answered normally", () => {
  const handler = vi.fn(() => "called");
  const tools = {
    zodTool: { description: "zod", inputSchema: z.object({ city: z.string().min(2) }), handler },
    jsonTool: {
      description: "json",
      inputSchema: { type: "object", properties: { n: { type: "integer", minimum: 1 } }, required: ["n"] },
      handler,
    },
    thrower: {
      description: "throws",
      inputSchema: z.object({}),
      handler: async () => {
        throw new Error("database is down");
      },
    },
    nothing: { description: "returns nothing", inputSchema: z.object({}), handler: () => undefined },
    refined: {
      description: "a schema whose own check throws",
      inputSchema: z.object({}).refine(() => {
        throw new Error("refinement broke");
      }),
      handler,
    },
  };

  it("posts an invalid input, a throwing handler, an unknown tool and no return value as results", async () => {
    relay.script = async (r) => {
      await r.toolCalls([
        { id: "z", name: "zodTool", input: { city: 7 } },
        { id: "j", name: "jsonTool", input: { n: 0 } },
        { id: "t", name: "thrower", input: {} },
        { id: "u", name: "noSuchTool", input: {} },
        { id: "n", name: "nothing", input: {} },
        { id: "r", name: "refined", input: {} },
      ]);
      r.done("handled");
    };
    handler.mockClear();
    const result = await createAgent({ ...agentOptions(), tools })
      .run("go")
      .result();
    expect(result.output).toBe("handled");
    expect(handler).not.toHaveBeenCalled();

    const [zod] = postedOutput("z");
    expect(zod.output.error).toMatch(/^invalid tool input: /);
    expect(zod.output.error).toContain("expected string");
    expect(zod.output.error).toContain("city");
    const [json] = postedOutput("j");
    expect(json.output.error).toMatch(/^invalid tool input: /);
    expect(json.output.error).toContain("#/n");
    expect(postedOutput("t")).toEqual([{ output: { error: "database is down" } }]);
    expect(postedOutput("u")).toEqual([{ output: { error: "unknown tool: noSuchTool" } }]);
    expect(postedOutput("n")).toEqual([{ output: null }]);
    expect(postedOutput("r")).toEqual([{ output: { error: "invalid tool input: refinement broke" } }]);
  });

  it("passes a builtin's call and result through without posting anything", async () => {
    relay.script = async (r) => {
      r.builtin("calc_1", "calculator", { a: 6, b: 7, op: "*" }, 42);
      r.done("42");
    };
    const run = createAgent({ ...agentOptions(), tools: { calculator: { builtin: "calculator" } } }).run(
      "6*7",
    );
    const events = await collect(run);
    expect(events).toEqual([
      { type: "tool_call", id: "calc_1", name: "calculator", input: { a: 6, b: 7, op: "*" } },
      { type: "tool_result", id: "calc_1", output: 42 },
      { type: "done", output: "42", usage: { input_tokens: 0, output_tokens: 0 } },
    ]);
    expect(relay.posts()).toEqual([]);
    expect(relay.requests[0]?.body.tools).toEqual([{ kind: "builtin", name: "calculator" }]);
  });
});

describe("posting a result when the network or relay fails", () => {
  const agent = () =>
    createAgent({
      ...agentOptions(),
      tools: {
        echo: { description: "echo", inputSchema: z.object({ v: z.string() }), handler: ({ v }) => v },
      },
    });
  const oneCall = async (r: Parameters<FakeRelay["script"]>[0]) => {
    const outputs = await r.toolCalls([{ id: "e1", name: "echo", input: { v: "hi" } }]);
    r.done(String(outputs.e1));
  };

  it("retries after a dropped connection and after a 503", async () => {
    relay.script = oneCall;
    relay.faults = ["drop", 503];
    const result = await agent().run("x").result();
    expect(result.output).toBe("hi");
    expect(postedOutput("e1")).toHaveLength(3);
  });

  it("takes a 409 already-submitted on a retry as its own first attempt", async () => {
    // The first post is stored but its answer is lost; the run goes on only once the retry has
    // been answered, so a retry that took the 409 for a failure would fail the run.
    relay.script = async (r) => {
      const outputs = await r.toolCalls([{ id: "e1", name: "echo", input: { v: "hi" } }]);
      await vi.waitFor(() => expect(postedOutput("e1")).toHaveLength(2), { timeout: 3_000 });
      await new Promise((resolve) => setTimeout(resolve, 50));
      r.done(String(outputs.e1));
    };
    relay.faults = ["drop-after-store"];
    const run = agent().run("x");
    const result = await run.result();
    expect(result.output).toBe("hi");
    expect(postedOutput("e1")).toHaveLength(2);
    expect(relay.runs.get(result.runId)?.status).toBe("completed");
  });

  it("fails the run, and closes it, when a result cannot be delivered", async () => {
    relay.script = async (r) => {
      await oneCall(r).catch(() => {});
    };
    relay.faults = [503, 503, 503, 503, 503];
    const run = agent().run("x");
    const error = await run.result().catch((e) => e);
    expect(error).toBeInstanceOf(RelayError);
    expect(error).toMatchObject({ code: "broker_unavailable", status: 503, runId: run.runId });
    expect(postedOutput("e1")).toHaveLength(5);
    const server = relay.runs.get(run.runId ?? "");
    await server?.disconnected;
    expect(server?.status).toBe("canceled");
  });
});

describe("failures", () => {
  it("throws relay's error envelope before the stream as a typed RelayError", async () => {
    relay.reject = {
      status: 400,
      type: "invalid_request_error",
      code: "credential_missing",
      message: "No anthropic credential for this tenant",
      param: "model",
    };
    const run = createAgent(agentOptions()).run("hi");
    const error = await collect(run).catch((e) => e);
    expect(error).toBeInstanceOf(RelayError);
    expect(error).not.toBeInstanceOf(RunError);
    expect(error).toMatchObject({
      code: "credential_missing",
      status: 400,
      type: "invalid_request_error",
      param: "model",
      message: "No anthropic credential for this tenant",
      runId: null,
    });
    expect(error.requestId).toMatch(/^req_/);
    await expect(run.result()).rejects.toBe(error);
    await expect(run.ready()).rejects.toBe(error);
    expect(run.runId).toBeUndefined();
  });

  it("reports a wrong key as 401 and an unreachable relay as connection_error", async () => {
    const unauthorized = await createAgent({ ...agentOptions(), apiKey: "relay_wrong" })
      .run("hi")
      .result()
      .catch((e) => e);
    expect(unauthorized).toMatchObject({ code: "invalid_api_key", status: 401 });

    const closed = await FakeRelay.start();
    const url = closed.url;
    await closed.close();
    const unreachable = await createAgent({ ...agentOptions(), baseUrl: url })
      .run("hi")
      .result()
      .catch((e) => e);
    expect(unreachable).toBeInstanceOf(RelayError);
    expect(unreachable).toMatchObject({ code: "connection_error", status: null });
  });

  it("yields an error event, then throws it as a RunError", async () => {
    relay.script = async (r) => {
      r.token("partial");
      r.error("tool_result_timeout", "No result for toolu_9 within 30000 ms");
    };
    const run = createAgent(agentOptions()).run("hi");
    const events: RunEvent[] = [];
    const error = await (async () => {
      for await (const event of run) events.push(event);
    })().catch((e) => e);
    expect(events).toEqual([
      { type: "token", text: "partial" },
      { type: "error", code: "tool_result_timeout", message: "No result for toolu_9 within 30000 ms" },
    ]);
    expect(error).toBeInstanceOf(RunError);
    expect(error).toMatchObject({ code: "tool_result_timeout", status: null, runId: run.runId });
    await expect(run.result()).rejects.toBe(error);
  });

  it("reports a stream that ends before the run did", async () => {
    relay.script = async (r) => {
      r.token("cut");
    };
    const error = await createAgent(agentOptions())
      .run("hi")
      .result()
      .catch((e) => e);
    expect(error).toBeInstanceOf(RunError);
    expect(error.code).toBe("stream_ended");
  });
});

describe("stopping a run", () => {
  it("aborts with the caller's signal: the iterator throws, relay sees the connection close, handlers see it", async () => {
    let handlerSignal: AbortSignal | undefined;
    relay.script = async (r) => {
      r.token("thinking");
      await r.toolCalls([{ id: "slow1", name: "slow", input: {} }]);
      r.done("never");
    };
    const controller = new AbortController();
    const agent = createAgent({
      ...agentOptions(),
      tools: {
        slow: {
          description: "waits for its signal",
          inputSchema: z.object({}),
          handler: (_input, ctx) =>
            new Promise((_, reject) => {
              handlerSignal = ctx.signal;
              ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason));
            }),
        },
      },
    });
    const run = agent.run("hi", { signal: controller.signal });
    const events: RunEvent[] = [];
    const error = await (async () => {
      for await (const event of run) {
        events.push(event);
        if (event.type === "tool_call") controller.abort();
      }
    })().catch((e) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe("AbortError");
    expect(events.map((e) => e.type)).toEqual(["token", "tool_call"]);
    await expect(run.result()).rejects.toBe(error);

    const server = relay.runs.get(run.runId ?? "");
    await server?.disconnected;
    expect(server?.clientGone).toBe(true);
    expect(server?.status).toBe("canceled");
    expect(handlerSignal?.aborted).toBe(true);
    // The aborted handler's outcome is not posted: nobody is waiting for it.
    await new Promise((r) => setTimeout(r, 50));
    expect(relay.posts()).toEqual([]);
  });

  it("stops when the caller leaves the loop early", async () => {
    relay.script = async (r) => {
      r.token("one");
      await r.run.disconnected;
    };
    const run = createAgent(agentOptions()).run("hi");
    for await (const event of run) {
      expect(event).toEqual({ type: "token", text: "one" });
      break;
    }
    const server = relay.runs.get(run.runId ?? "");
    await server?.disconnected;
    expect(server?.status).toBe("canceled");
    await expect(run.result()).rejects.toMatchObject({ name: "AbortError" });
  });

  it("cancels through relay with run.cancel() and agent.cancel(id)", async () => {
    relay.script = async (r) => {
      r.token("working");
      await r.run.disconnected;
    };
    const agent = createAgent(agentOptions());
    const run = agent.run("hi");
    const { runId } = await run.ready();
    await run.cancel();
    const error = await run.result().catch((e) => e);
    expect(error).toBeInstanceOf(RunError);
    expect(error).toMatchObject({ code: "run_canceled", runId });
    expect(relay.requests.some((r) => r.method === "POST" && r.path === `/v1/runs/${runId}/cancel`)).toBe(
      true,
    );
    expect((await agent.getRun(runId)).status).toBe("canceled");

    const other = agent.run("again");
    const started = await other.ready();
    const info = await agent.cancel(started.runId);
    expect(info).toMatchObject({ id: started.runId, status: "canceled" });
    await expect(agent.getRun("run_missing")).rejects.toMatchObject({ code: "run_not_found", status: 404 });
    await other.cancel();
  });
});

describe("createAgent", () => {
  it("takes the URL and key from RELAY_URL and RELAY_API_KEY", async () => {
    vi.stubEnv("RELAY_URL", `${relay.url}/v1/`);
    vi.stubEnv("RELAY_API_KEY", relay.apiKey);
    relay.script = async (r) => r.done("from env");
    const result = await createAgent({ model: "gpt-4o-mini" }).run("hi").result();
    expect(result.output).toBe("from env");
    expect(relay.requests[0]?.path).toBe("/v1/runs");
  });

  it("says what is missing when neither options nor environment give it", () => {
    vi.stubEnv("RELAY_URL", undefined);
    vi.stubEnv("RELAY_API_KEY", undefined);
    expect(() => createAgent({ model: "gpt-4o" })).toThrow(/RELAY_URL/);
    expect(() => createAgent({ model: "gpt-4o", baseUrl: relay.url })).toThrow(
      expect.objectContaining({ code: "api_key_missing", message: expect.stringContaining("RELAY_API_KEY") }),
    );
  });

  it("rejects tool definitions it cannot send", () => {
    const base = agentOptions();
    expect(() => createAgent({ ...base, tools: { x: { builtin: "shell" as "calculator" } } })).toThrow(
      /unknown builtin/,
    );
    expect(() =>
      createAgent({ ...base, tools: { x: { description: "d", inputSchema: z.date(), handler: () => 1 } } }),
    ).toThrow(/no JSON Schema form/);
    // A zod 3 schema carries Standard Schema's marker but not zod 4's internals.
    const zod3 = { "~standard": { vendor: "zod", version: 1, validate: () => ({ value: 1 }) } };
    expect(() =>
      createAgent({ ...base, tools: { x: { description: "d", inputSchema: zod3, handler: () => 1 } } }),
    ).toThrow(/zod 3/);
    expect(() =>
      createAgent({ ...base, tools: { x: { description: "d", handler: () => 1 } as never } }),
    ).toThrow(/inputSchema/);
  });
});
