import type { Model as AnthropicSdkModel } from "@anthropic-ai/sdk/resources/messages";
import type { ChatModel as OpenAISdkChatModel } from "openai/resources/shared";
import { describe, expect, expectTypeOf, it } from "vitest";
import { z } from "zod";
import { SseParser } from "../../common/sse";
import { RelayHttp } from "../../sdk/src/http";
import {
  type AnthropicModel,
  createAgent,
  type ModelId,
  type OpenAIModel,
  RelayError,
  type RunEvent,
} from "../../sdk/src/index";
import { postToolResult } from "../../sdk/src/post-result";

const fast = { retries: 3, baseDelayMs: 1, maxDelayMs: 2 };

/** A fetch that answers from a list, one response (or thrown error) per call, and records the calls. */
function scriptedFetch(answers: (Response | Error)[]) {
  const calls: { url: string; init: RequestInit }[] = [];
  const fetch = async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    const answer = answers.shift();
    if (!answer) throw new Error("no more answers");
    if (answer instanceof Error) throw answer;
    return answer;
  };
  return { fetch, calls };
}

const envelope = (status: number, code: string) =>
  new Response(
    JSON.stringify({ error: { message: code, type: "x", code, param: null, request_id: "req_1" } }),
    {
      status,
      headers: { "content-type": "application/json" },
    },
  );
const ok = () => new Response(JSON.stringify({ ok: true }), { status: 200 });

describe("posting a tool result", () => {
  const signal = new AbortController().signal;

  it("posts {output} to the encoded tool-use id with the key", async () => {
    const { fetch, calls } = scriptedFetch([ok()]);
    const http = new RelayHttp("https://relay.example/v1/", "relay_key", fetch);
    await postToolResult(http, "run 1", "toolu/a b", '{"output":null}', signal, fast);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.url).toBe("https://relay.example/v1/runs/run%201/tool-results/toolu%2Fa%20b");
    expect(calls[0]?.init.method).toBe("POST");
    expect(calls[0]?.init.body).toBe('{"output":null}');
    expect(calls[0]?.init.headers).toMatchObject({
      authorization: "Bearer relay_key",
      "content-type": "application/json",
    });
  });

  it("takes 409 tool_result_already_submitted as success only on a retry", async () => {
    const retried = scriptedFetch([
      new TypeError("fetch failed"),
      envelope(409, "tool_result_already_submitted"),
    ]);
    await postToolResult(new RelayHttp("http://r", "k", retried.fetch), "r", "t", "{}", signal, fast);
    expect(retried.calls).toHaveLength(2);

    const first = scriptedFetch([envelope(409, "tool_result_already_submitted")]);
    await expect(
      postToolResult(new RelayHttp("http://r", "k", first.fetch), "r", "t", "{}", signal, fast),
    ).rejects.toMatchObject({ code: "tool_result_already_submitted", status: 409, runId: "r" });
    expect(first.calls).toHaveLength(1);
  });

  it("retries network errors, 429 and 5xx up to its limit, and not 4xx", async () => {
    const flaky = scriptedFetch([
      new TypeError("reset"),
      envelope(502, "bad_gateway"),
      envelope(429, "rate"),
      ok(),
    ]);
    await postToolResult(new RelayHttp("http://r", "k", flaky.fetch), "r", "t", "{}", signal, fast);
    expect(flaky.calls).toHaveLength(4);

    const down = scriptedFetch(Array.from({ length: 10 }, () => envelope(503, "broker_unavailable")));
    await expect(
      postToolResult(new RelayHttp("http://r", "k", down.fetch), "r", "t", "{}", signal, fast),
    ).rejects.toMatchObject({ code: "broker_unavailable" });
    expect(down.calls).toHaveLength(4);

    for (const [status, code] of [
      [404, "tool_call_not_found"],
      [404, "run_not_found"],
      [409, "run_not_waiting"],
    ] as const) {
      const final = scriptedFetch([envelope(status, code), ok()]);
      await expect(
        postToolResult(new RelayHttp("http://r", "k", final.fetch), "r", "t", "{}", signal, fast),
      ).rejects.toBeInstanceOf(RelayError);
      expect(final.calls).toHaveLength(1);
    }
  });

  it("stops retrying when aborted", async () => {
    const controller = new AbortController();
    const down = scriptedFetch(Array.from({ length: 10 }, () => envelope(503, "x")));
    const posting = postToolResult(
      new RelayHttp("http://r", "k", down.fetch),
      "r",
      "t",
      "{}",
      controller.signal,
      {
        retries: 5,
        baseDelayMs: 10_000,
        maxDelayMs: 10_000,
      },
    );
    await new Promise((r) => setTimeout(r, 10));
    controller.abort();
    await expect(posting).rejects.toMatchObject({ name: "AbortError" });
    expect(down.calls).toHaveLength(1);
  });
});

describe("the run stream", () => {
  it("reads ids, frames split anywhere, CRLF, and ignores unknown event types", async () => {
    const frames =
      'id: 1\r\ndata: {"type":"token","text":"a"}\r\n\r\n' +
      ": heartbeat\n\n" +
      'id: 2\ndata: {"type":"memory_retrieved","count":0}\n\n' +
      'id: 3\ndata: {"type":"done","output":"a"}\n\n';
    const bytes = new TextEncoder().encode(frames);
    // One byte at a time: every boundary a network could cut at.
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const byte of bytes) controller.enqueue(new Uint8Array([byte]));
        controller.close();
      },
    });
    const fetch = async () =>
      new Response(body, { headers: { "content-type": "text/event-stream", "x-run-id": "run_1" } });
    const run = createAgent({ baseUrl: "http://r", apiKey: "k", model: "m", fetch }).run("hi");
    const events: RunEvent[] = [];
    for await (const event of run) events.push(event);
    expect(events).toEqual([
      { type: "token", text: "a" },
      // Usage is always there, even when relay leaves out zero counts as the seed did.
      { type: "done", output: "a", usage: { input_tokens: 0, output_tokens: 0 } },
    ]);
    expect(run.lastEventId).toBe("3");
    // Without x-workflow-id the run is its own workflow.
    expect(await run.result()).toMatchObject({ runId: "run_1", workflowId: "run_1", output: "a" });
  });

  it("parses the id field in common/sse.ts", () => {
    const parser = new SseParser();
    expect(parser.push("id: 7\nevent: x\ndata: {}\n\ndata: 1\n\nid: a\0b\ndata: 2\n\n")).toEqual([
      { id: "7", event: "x", data: "{}", raw: "id: 7\nevent: x\ndata: {}\n\n" },
      { id: undefined, event: undefined, data: "1", raw: "data: 1\n\n" },
      { id: undefined, event: undefined, data: "2", raw: "id: a\0b\ndata: 2\n\n" },
    ]);
  });

  it("fails on a response that is not a run's stream, or an unreadable event", async () => {
    const noRunId = async () => new Response("hello", { status: 200 });
    await expect(
      createAgent({ baseUrl: "http://r", apiKey: "k", model: "m", fetch: noRunId }).run("hi").result(),
    ).rejects.toMatchObject({ code: "invalid_response" });

    const garbage = async () =>
      new Response('id: 1\ndata: {"type":"token"\n\n', { headers: { "x-run-id": "run_g" } });
    await expect(
      createAgent({ baseUrl: "http://r", apiKey: "k", model: "m", fetch: garbage }).run("hi").result(),
    ).rejects.toMatchObject({ name: "RunError", code: "invalid_event", runId: "run_g" });

    const html = async () => new Response("<html>Bad gateway</html>", { status: 502 });
    await expect(
      createAgent({ baseUrl: "http://r", apiKey: "k", model: "m", fetch: html }).run("hi").result(),
    ).rejects.toMatchObject({ code: "http_502", status: 502, message: "<html>Bad gateway</html>" });
  });
});

// Literal members of a union that also accepts any string.
type Known<T> = T extends string ? (string extends T ? never : T) : never;
type Deprecated = "claude-sonnet-4-5" | "claude-sonnet-4-5-20250929";

describe("types", () => {
  it("lists the provider SDKs' current models and accepts any string", () => {
    // When @anthropic-ai/sdk or openai is upgraded with new names, these fail the typecheck.
    expectTypeOf<AnthropicModel>().toEqualTypeOf<Exclude<Known<AnthropicSdkModel>, Deprecated>>();
    expectTypeOf<OpenAIModel>().toEqualTypeOf<OpenAISdkChatModel>();
    expectTypeOf<"claude-sonnet-4-6">().toExtend<ModelId>();
    expectTypeOf<"groq:llama-3.1-8b">().toExtend<ModelId>();
    expectTypeOf<"claude-sonnet-4-5">().not.toExtend<AnthropicModel>();
  });

  it("types a handler's input from its zod schema, or from its annotation with JSON Schema", () => {
    createAgent({
      baseUrl: "http://r",
      apiKey: "k",
      model: "gpt-4o",
      tools: {
        weather: {
          description: "d",
          inputSchema: z.object({ city: z.string(), days: z.number().default(1) }),
          handler: (input, ctx) => {
            expectTypeOf(input).toEqualTypeOf<{ city: string; days: number }>();
            expectTypeOf(ctx.signal).toEqualTypeOf<AbortSignal>();
          },
        },
        search: {
          description: "d",
          inputSchema: { type: "object", properties: { q: { type: "string" } } },
          handler: (input: { q: string }) => input.q,
        },
        raw: {
          description: "d",
          inputSchema: { type: "object" },
          handler: (input) => expectTypeOf(input).toBeUnknown(),
        },
        calc: { builtin: "calculator" },
      },
    });
    expectTypeOf<Extract<RunEvent, { type: "tool_call" }>>().toEqualTypeOf<{
      type: "tool_call";
      id: string;
      name: string;
      input: unknown;
    }>();
  });
});
