import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { SseParser } from "../../common/sse";
import { chatToMessages } from "../../workers/translate/chat-to-messages";
import { anthropicToResponse, chatCompletionToResponse } from "../../workers/translate/responses-object";
import { ResponsesPassthrough, responsesUsage } from "../../workers/translate/responses-passthrough";
import { responsesToChat } from "../../workers/translate/responses-request";
import { AnthropicToResponsesStream, ChatToResponsesStream } from "../../workers/translate/responses-stream";
import { AnthropicToOpenAIStream } from "../../workers/translate/streams";
import type { Json, OpenAIChatRequest } from "../../workers/translate/types";
import { fixture, fixtureJson, golden, runStream } from "../helpers/golden";

beforeAll(() => {
  vi.useFakeTimers();
  vi.setSystemTime(new Date("2026-01-02T03:04:05Z"));
  vi.spyOn(crypto, "randomUUID").mockReturnValue("00000000-0000-4000-8000-000000000000");
});
afterAll(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

const pretty = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
const request = () => fixtureJson("responses-request.json") as Json;
const shape = () => responsesToChat(request(), "llama-3.3-70b").shape;

/** The events of a Responses stream, parsed. */
function events(text: string): { event: string | undefined; data: Json }[] {
  return new SseParser().push(text).map((ev) => ({ event: ev.event, data: JSON.parse(ev.data) as Json }));
}

/** The error a translation throws, as the fields a client sees. */
function refusal(body: Json): { status: number; code: string; param: string | null } {
  try {
    responsesToChat(body, "m");
  } catch (err) {
    const e = err as { status: number; code: string; param: string | null };
    return { status: e.status, code: e.code, param: e.param };
  }
  throw new Error("the request was accepted");
}

describe("Responses request → Chat Completions", () => {
  it("translates every supported field, merging calls into the assistant turn before them", () => {
    const { chat, warnings } = responsesToChat(request(), "llama-3.3-70b");
    golden("responses-request.to-openai.json", pretty(chat));
    expect(warnings).toEqual([
      "dropped 1 item_reference(s) to earlier relay messages that relay does not keep (expired, no Redis, or store: false): the model does not see that earlier assistant text; send it as a message instead",
    ]);
  });

  it("composes with chatToMessages for Anthropic, effort becoming extended thinking", () => {
    const { chat, warnings } = responsesToChat(request(), "claude-sonnet-4-5");
    const anthropic = chatToMessages(chat, "claude-sonnet-4-5", 4096, warnings);
    golden("responses-request.to-anthropic.json", pretty(anthropic));
    expect(anthropic.thinking).toEqual({ type: "enabled", budget_tokens: 2048 });
    expect(anthropic.max_tokens).toBe(3048);
    expect(warnings[1]).toBe(
      "temperature, top_k, top_p dropped: Anthropic does not allow them with extended thinking",
    );
  });

  it("takes input as a string, instructions as the first system message", () => {
    const { chat, warnings, shape } = responsesToChat(
      { model: "m", instructions: "Be brief.", input: "Hi", stream: false, store: null },
      "llama",
    );
    expect(chat).toEqual({
      model: "llama",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Hi" },
      ],
    });
    expect(warnings).toEqual([]);
    expect(JSON.parse(`{${shape.echo}}`)).toMatchObject({
      instructions: "Be brief.",
      store: false,
      tools: [],
    });
  });

  it("narrows the tools for allowed_tools and names a forced function the chat way", () => {
    const tools = [
      { type: "function", name: "a", parameters: { type: "object" } },
      { type: "function", name: "b", parameters: { type: "object" } },
    ];
    const allowed = responsesToChat(
      {
        input: "x",
        tools,
        tool_choice: { type: "allowed_tools", mode: "required", tools: [{ type: "function", name: "b" }] },
      },
      "m",
    ).chat;
    expect(allowed.tools?.map((t) => t.function.name)).toEqual(["b"]);
    expect(allowed.tool_choice).toBe("required");
    const forced = responsesToChat(
      { input: "x", tools, tool_choice: { type: "function", name: "a" } },
      "m",
    ).chat;
    expect(forced.tool_choice).toEqual({ type: "function", function: { name: "a" } });
    const json = responsesToChat({ input: "x", text: { format: { type: "json_object" } } }, "m").chat;
    expect(json.response_format).toEqual({ type: "json_object" });
  });

  it("refuses what needs server-side state or hosted features, naming the field", () => {
    const cases: [Json, string][] = [
      [{ previous_response_id: "resp_123" }, "previous_response_id"],
      [{ store: true }, "store"],
      [{ conversation: "conv_1" }, "conversation"],
      [{ background: true }, "background"],
      [{ prompt: { id: "pmpt_1" } }, "prompt"],
      [{ context_management: [{ type: "compaction" }] }, "context_management"],
      [
        {
          tools: [
            { type: "function", name: "f", parameters: {} },
            { type: "file_search", vector_store_ids: ["vs_1"] },
            { type: "web_search" },
          ],
        },
        "tools[1].type",
      ],
      [{ tools: [{ type: "mcp", server_label: "x" }] }, "tools[0].type"],
      [{ tool_choice: { type: "web_search_preview" } }, "tool_choice.type"],
      [{ text: { format: { type: "grammar" } } }, "text.format.type"],
      [{ input: [{ type: "computer_call_output", call_id: "c", output: {} }] }, "input[0].type"],
      [
        {
          input: [
            { role: "user", content: "a" },
            { type: "item_reference", id: "msg_67ab" },
          ],
        },
        "input[1].type",
      ],
      [{ input: [{ id: "fc_rly00_1" }] }, "input[0].id"],
      [
        {
          input: [
            {
              role: "user",
              content: [
                { type: "input_text", text: "read this" },
                { type: "input_file", file_id: "file-1" },
              ],
            },
          ],
        },
        "input[0].content[1].type",
      ],
      [
        { input: [{ role: "user", content: [{ type: "input_image", file_id: "file-2", detail: "auto" }] }] },
        "input[0].content[0].file_id",
      ],
      [{ input: [{ type: "custom_tool_call", call_id: "c", name: "n", input: "" }] }, "input[0].type"],
      [
        { input: [{ role: "system", content: [{ type: "input_image", image_url: "u" }] }] },
        "input[0].content[0].type",
      ],
    ];
    for (const [patch, param] of cases) {
      expect(refusal({ model: "m", input: "x", ...patch }), param).toEqual({
        status: 400,
        code: "unsupported_parameter",
        param,
      });
    }
  });

  it("accepts the stateless values of the stateful fields", () => {
    const body = {
      input: "x",
      store: false,
      background: false,
      previous_response_id: null,
      conversation: null,
    };
    expect(() => responsesToChat(body, "m")).not.toThrow();
  });

  it("reports malformed items with the path of the bad field", () => {
    expect(refusal({ input: [{ type: "function_call", name: "f", arguments: "{}" }] })).toEqual({
      status: 400,
      code: "invalid_request",
      param: "input[0].call_id",
    });
    expect(refusal({ input: "x", tools: [{ type: "function", parameters: {} }] })).toMatchObject({
      param: "tools[0].name",
    });
    expect(refusal({ input: "x", temperature: "hot" })).toMatchObject({ param: "temperature" });
    expect(refusal({ input: [] })).toMatchObject({ code: "invalid_request", param: "input" });
  });
});

describe("reasoning effort → Anthropic extended thinking", () => {
  const chat = (extra: Partial<OpenAIChatRequest>): OpenAIChatRequest => ({
    model: "m",
    messages: [{ role: "user", content: "Prove it." }],
    ...extra,
  });

  it("sets a budget per effort and keeps the room the client gave the answer", () => {
    const medium = chatToMessages(chat({ reasoning_effort: "medium" }), "claude", 4096);
    expect(medium.thinking).toEqual({ type: "enabled", budget_tokens: 8192 });
    expect(medium.max_tokens).toBe(12288);
    const roomy = chatToMessages(chat({ reasoning_effort: "high", max_tokens: 30000 }), "claude", 4096);
    expect(roomy.thinking?.budget_tokens).toBe(16384);
    expect(roomy.max_tokens).toBe(30000);
    expect(chatToMessages(chat({ reasoning_effort: "none" }), "claude", 4096).thinking).toBeUndefined();
  });

  it("drops temperature and top_k, and a top_p below 0.95, saying so", () => {
    const warnings: string[] = [];
    const out = chatToMessages(
      chat({ reasoning_effort: "low", temperature: 0.2, top_p: 0.97 }),
      "claude",
      4096,
      warnings,
    );
    expect(out).not.toHaveProperty("temperature");
    expect(out.top_p).toBe(0.97);
    expect(warnings).toEqual(["temperature dropped: Anthropic does not allow them with extended thinking"]);
  });

  it("runs without thinking when a tool call is forced, or in the middle of a tool loop", () => {
    const tools = [{ type: "function" as const, function: { name: "f", parameters: { type: "object" } } }];
    const forced: string[] = [];
    const a = chatToMessages(
      chat({ reasoning_effort: "high", tools, tool_choice: "required" }),
      "c",
      4096,
      forced,
    );
    expect(a.thinking).toBeUndefined();
    expect(forced[0]).toMatch(/tool call is forced/);

    const loop: string[] = [];
    const b = chatToMessages(
      chat({
        reasoning_effort: "high",
        tools,
        temperature: 0.5,
        messages: [
          { role: "user", content: "Go" },
          {
            role: "assistant",
            content: null,
            tool_calls: [{ id: "t1", type: "function", function: { name: "f", arguments: "{}" } }],
          },
          { role: "tool", tool_call_id: "t1", content: "ok" },
        ],
      }),
      "c",
      4096,
      loop,
    );
    expect(b.thinking).toBeUndefined();
    expect(b.temperature).toBe(0.5);
    expect(loop[0]).toMatch(/thinking blocks of the turn that called the tools/);
  });

  it("refuses an effort it has no budget for", () => {
    expect(() => chatToMessages(chat({ reasoning_effort: "extreme" }), "c", 4096)).toThrow(
      expect.objectContaining({ code: "unsupported_parameter", param: "reasoning_effort" }),
    );
  });
});

describe("non-streamed answers → response object", () => {
  it("Chat Completion with parallel calls", () => {
    const { body, usage } = chatCompletionToResponse(fixtureJson("chat-completion.json"), shape());
    expect(usage).toEqual({ input: 120, output: 30, cached: 64 });
    golden("chat-completion.to-responses.json", pretty(JSON.parse(body)));
  });

  it("Anthropic message with parallel calls, through the Chat Completion", () => {
    const { body, usage } = anthropicToResponse(fixtureJson("anthropic-response.json"), shape());
    expect(usage).toEqual({ input: 170, output: 40, cached: 50 });
    golden("anthropic-response.to-responses.json", pretty(JSON.parse(body)));
  });

  it("marks a cut answer incomplete, carries a refusal, and has no usage when the upstream gave none", () => {
    const cut = JSON.parse(
      chatCompletionToResponse(
        { model: "m", choices: [{ message: { content: "Once upon" }, finish_reason: "length" }] },
        shape(),
      ).body,
    );
    expect(cut).toMatchObject({
      status: "incomplete",
      incomplete_details: { reason: "max_output_tokens" },
      output: [
        { type: "message", status: "incomplete", content: [{ type: "output_text", text: "Once upon" }] },
      ],
      usage: null,
    });
    const refused = chatCompletionToResponse(
      { choices: [{ message: { content: null, refusal: "I can't." }, finish_reason: "stop" }] },
      shape(),
    );
    expect(refused.usage).toBeNull();
    expect(JSON.parse(refused.body)).toMatchObject({
      status: "completed",
      model: "llama-3.3-70b",
      output: [{ type: "message", content: [{ type: "refusal", refusal: "I can't." }] }],
    });
  });
});

describe("streams → Responses events", () => {
  it("chat chunks with interleaved parallel calls", () => {
    const translator = new ChatToResponsesStream(shape());
    golden("openai-stream.to-responses.sse", runStream(translator, fixture("openai-stream.sse")));
    expect(translator.usage()).toEqual({ input: 50, output: 20, cached: 16 });
  });

  it("Anthropic events (thinking dropped, two calls), composed on objects", () => {
    const translator = new AnthropicToResponsesStream(shape());
    golden("anthropic-stream.to-responses.sse", runStream(translator, fixture("anthropic-stream.sse")));
    expect(translator.usage()).toEqual({ input: 35, output: 42, cached: 10 });
  });

  it("a refusal", () => {
    const out = runStream(new ChatToResponsesStream(shape()), fixture("openai-stream-refusal.sse"));
    golden("openai-stream-refusal.to-responses.sse", out);
  });

  it("an answer cut by the token limit, without [DONE], with reasoning tokens", () => {
    const translator = new ChatToResponsesStream(shape());
    golden(
      "openai-stream-length.to-responses.sse",
      runStream(translator, fixture("openai-stream-length.sse")),
    );
    const last = events(fixture("openai-stream-length.to-responses.sse")).at(-1)?.data;
    expect(last).toMatchObject({
      type: "response.incomplete",
      response: {
        status: "incomplete",
        incomplete_details: { reason: "max_output_tokens" },
        usage: { output_tokens: 16, output_tokens_details: { reasoning_tokens: 12 } },
      },
    });
  });

  it("an upstream error after the first byte becomes response.failed with what came before", () => {
    golden(
      "openai-stream-error.to-responses.sse",
      runStream(new ChatToResponsesStream(shape()), fixture("openai-stream-error.sse")),
    );
    const translator = new AnthropicToResponsesStream(shape());
    golden(
      "anthropic-stream-error.to-responses.sse",
      runStream(translator, fixture("anthropic-stream-error.sse")),
    );
    // Anthropic counts the input at the start, so a failed stream still has usage to record.
    expect(translator.usage()).toEqual({ input: 40, output: 1, cached: 0 });
  });

  it("relay's own failure mid-stream (error()), and nothing after the final response", () => {
    const translator = new ChatToResponsesStream(shape());
    const input = fixture("openai-stream.sse");
    const parser = new SseParser();
    let out = "";
    for (const ev of parser.push(input.slice(0, input.indexOf("call_q")))) out += translator.event(ev);
    out += translator.error("Upstream timed out", "timeout_error");
    golden("openai-stream-cut.to-responses.sse", out);
    expect(translator.end()).toBe("");

    const complete = new ChatToResponsesStream(shape());
    runStream(complete, input);
    expect(complete.error("late", "api_error")).toBe("");
  });

  it("covers every event type, numbers events from 0 and names each one after its type", () => {
    const outputs = [
      "openai-stream.to-responses.sse",
      "anthropic-stream.to-responses.sse",
      "openai-stream-refusal.to-responses.sse",
      "openai-stream-length.to-responses.sse",
      "openai-stream-error.to-responses.sse",
      "anthropic-stream-error.to-responses.sse",
      "openai-stream-cut.to-responses.sse",
    ];
    const seen = new Set<string>();
    for (const name of outputs) {
      const list = events(fixture(name));
      list.forEach(({ event, data }, i) => {
        expect(data.sequence_number, name).toBe(i);
        expect(event, name).toBe(data.type);
        seen.add(String(data.type));
      });
      expect(list[0]?.data.type).toBe("response.created");
    }
    expect([...seen].sort()).toEqual(
      [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.refusal.delta",
        "response.refusal.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.completed",
        "response.incomplete",
        "response.failed",
      ].sort(),
    );
  });

  it("writes the same events however the upstream bytes are cut", () => {
    const input = fixture("anthropic-stream.sse");
    const whole = runStream(new AnthropicToResponsesStream(shape()), input, input.length);
    expect(runStream(new AnthropicToResponsesStream(shape()), input, 1)).toBe(whole);
  });

  it("keeps calls apart when a server sends them without an index", () => {
    const chunk = (delta: Json, finish: string | null = null) =>
      `data: ${JSON.stringify({ id: "x", model: "gemini", choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    const input =
      chunk({ tool_calls: [{ id: "a", type: "function", function: { name: "f", arguments: '{"n":1}' } }] }) +
      chunk({ tool_calls: [{ id: "b", type: "function", function: { name: "g", arguments: '{"n":2}' } }] }) +
      chunk({}, "tool_calls");
    const last = events(runStream(new ChatToResponsesStream(shape()), input)).at(-1)?.data as Json;
    expect((last.response as Json).output).toMatchObject([
      { type: "function_call", call_id: "a", name: "f", arguments: '{"n":1}', status: "completed" },
      { type: "function_call", call_id: "b", name: "g", arguments: '{"n":2}', status: "completed" },
    ]);
  });

  it("leaves the Anthropic → Chat Completions stream's error output as it was", () => {
    const translator = new AnthropicToOpenAIStream("claude-sonnet-4-5", true);
    golden(
      "anthropic-stream-error.to-openai.sse",
      runStream(translator, fixture("anthropic-stream-error.sse")),
    );
    expect(translator.error("Upstream timed out", "timeout_error")).toBe(
      'data: {"error":{"message":"Upstream timed out","type":"timeout_error","code":"timeout_error","param":null}}\n\n',
    );
  });
});

describe("OpenAI's own Responses API, passed through", () => {
  const stream = () => fixture("openai-stream.to-responses.sse");

  it("reads usage from a response object", () => {
    expect(responsesUsage(fixtureJson("chat-completion.to-responses.json"))).toEqual({
      input: 120,
      output: 30,
      cached: 64,
    });
    expect(responsesUsage({ id: "resp_1", usage: null })).toBeNull();
  });

  it("forwards events as they came and reads usage from the final one", () => {
    const passthrough = new ResponsesPassthrough();
    expect(runStream(passthrough, stream())).toBe(stream());
    expect(passthrough.usage()).toEqual({ input: 50, output: 20, cached: 16 });
  });

  it("finds the usage when events carry no event name too", () => {
    const unnamed = stream().replace(/^event: .*\n/gm, "");
    const passthrough = new ResponsesPassthrough();
    expect(runStream(passthrough, unnamed)).toBe(unnamed);
    expect(passthrough.usage()).toEqual({ input: 50, output: 20, cached: 16 });
  });

  it("reports relay's own failure as an error event numbered after OpenAI's", () => {
    const passthrough = new ResponsesPassthrough();
    const partial = stream().slice(0, stream().indexOf("event: response.output_text.done"));
    runStream(passthrough, partial);
    const [failure] = events(passthrough.error("Upstream timed out", "timeout_error"));
    expect(failure).toEqual({
      event: "error",
      data: {
        type: "error",
        sequence_number: 6,
        code: "timeout_error",
        message: "Upstream timed out",
        param: null,
      },
    });
    expect(passthrough.usage()).toBeNull();
  });
});
