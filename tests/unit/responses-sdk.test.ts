import { createOpenAI } from "@ai-sdk/openai";
import { generateText, stepCountIs, streamText, tool } from "ai";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { TextPump } from "../../workers/gateway/stream-pumps";
import { anthropicToResponse, chatCompletionToResponse } from "../../workers/translate/responses-object";
import { type ResponsesTranslation, responsesToChat } from "../../workers/translate/responses-request";
import { AnthropicToResponsesStream, ChatToResponsesStream } from "../../workers/translate/responses-stream";
import type { Json } from "../../workers/translate/types";
import { fixture } from "../helpers/golden";

// The clients relay did not write must accept what it writes: the official openai SDK (its own
// stream accumulator) and the Vercel AI SDK's default OpenAI provider (its zod schemas), each
// through a fetch that does what relay does on a translated route.

/** One scripted upstream answer, in the upstream's own wire format. */
type Upstream = { wire: "openai" | "anthropic"; text: string };

/** A stand-in for relay on a translated route: the client's request is translated, the answer translated back. */
function relay(upstreams: Upstream[]) {
  const seen: ResponsesTranslation[] = [];
  const fetch = async (_url: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const body = JSON.parse(String(init?.body)) as Json;
    const translation = responsesToChat(body, "target-model");
    seen.push(translation);
    const upstream = upstreams.shift();
    if (!upstream) throw new Error("no upstream answer left");
    if (body.stream) {
      const pump = new TextPump(
        upstream.wire === "openai"
          ? new ChatToResponsesStream(translation.shape)
          : new AnthropicToResponsesStream(translation.shape),
      );
      const bytes = new TextEncoder().encode(upstream.text);
      let at = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (at >= bytes.length) {
            controller.enqueue(pump.end());
            controller.close();
            return;
          }
          controller.enqueue(pump.push(bytes.subarray(at, at + 53)));
          at += 53;
        },
      });
      return new Response(stream, { headers: { "content-type": "text/event-stream" } });
    }
    const answer =
      upstream.wire === "openai"
        ? chatCompletionToResponse(JSON.parse(upstream.text), translation.shape)
        : anthropicToResponse(JSON.parse(upstream.text), translation.shape);
    return new Response(answer.body, { headers: { "content-type": "application/json" } });
  };
  return { fetch, seen };
}

const openaiClient = (fetch: ReturnType<typeof relay>["fetch"]) =>
  new OpenAI({ apiKey: "relay_live_test", baseURL: "http://relay.test/v1", fetch, maxRetries: 0 });

const weatherTool = {
  type: "function" as const,
  name: "get_weather",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  strict: true,
};

describe("openai SDK", () => {
  it("non-streamed, from a Chat Completion and from an Anthropic message", async () => {
    for (const upstream of [
      { wire: "openai" as const, text: fixture("chat-completion.json") },
      { wire: "anthropic" as const, text: fixture("anthropic-response.json") },
    ]) {
      const client = openaiClient(relay([upstream]).fetch);
      const res = await client.responses.create({ model: "m", input: "Weather?", tools: [weatherTool] });
      expect(res.output_text).toBe("Checking.");
      const calls = res.output.filter((o) => o.type === "function_call");
      expect(calls.map((c) => c.name)).toEqual(["get_weather", "get_weather"]);
      expect(res.usage?.total_tokens).toBe(upstream.wire === "openai" ? 150 : 210);
      expect(res).toMatchObject({ store: false, previous_response_id: null });
    }
  });

  it("streamed: the stream helper's final response has the text, both calls and the usage", async () => {
    const client = openaiClient(relay([{ wire: "openai", text: fixture("openai-stream.sse") }]).fetch);
    const snapshots: string[] = [];
    const stream = client.responses
      .stream({ model: "m", input: "Weather?", tools: [weatherTool] })
      .on("response.output_text.delta", (e) => snapshots.push(e.snapshot));
    const final = await stream.finalResponse();
    expect(snapshots).toEqual(["Hel", "Hello"]);
    expect(final.status).toBe("completed");
    expect(final.output_text).toBe("Hello");
    expect(
      final.output.flatMap((o) => (o.type === "function_call" ? [[o.call_id, o.name, o.arguments]] : [])),
    ).toEqual([
      ["call_p", "get_weather", '{"city":"Paris"}'],
      ["call_q", "get_time", "{}"],
    ]);
    expect(final.usage).toMatchObject({ input_tokens: 50, output_tokens: 20, total_tokens: 70 });
  });

  it("streamed with create({ stream: true }) from Anthropic: every event parses, in order", async () => {
    const client = openaiClient(relay([{ wire: "anthropic", text: fixture("anthropic-stream.sse") }]).fetch);
    const stream = await client.responses.create({ model: "m", input: "Weather?", stream: true });
    const types: string[] = [];
    let args = "";
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === "response.function_call_arguments.delta") args += event.delta;
      if (event.type === "response.completed") expect(event.response.usage?.input_tokens).toBe(35);
    }
    expect(types[0]).toBe("response.created");
    expect(types.at(-1)).toBe("response.completed");
    expect(args).toBe('{"city":"Paris"}{}');
  });

  it("streamed: a failure after the first byte ends the response as failed, with its error", async () => {
    const client = openaiClient(
      relay([{ wire: "anthropic", text: fixture("anthropic-stream-error.sse") }]).fetch,
    );
    const final = await client.responses.stream({ model: "m", input: "Hi" }).finalResponse();
    expect(final.status).toBe("failed");
    expect(final.error).toEqual({ code: "overloaded_error", message: "Overloaded" });
    expect(final.output_text).toBe("Partial");
  });
});

/** Scripted chat-completion answers for a two-step tool loop. */
function chatStream(parts: { text?: string; call?: { id: string; args: string }; finish: string }): string {
  const chunk = (delta: Json, finish: string | null = null) =>
    `data: ${JSON.stringify({ id: "chatcmpl-1", object: "chat.completion.chunk", created: 1, model: "llama", choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  let out = chunk({ role: "assistant", content: "" });
  if (parts.text) for (const word of parts.text.split(/(?<= )/)) out += chunk({ content: word });
  if (parts.call) {
    out += chunk({
      tool_calls: [
        { index: 0, id: parts.call.id, type: "function", function: { name: "get_weather", arguments: "" } },
      ],
    });
    out += chunk({ tool_calls: [{ index: 0, function: { arguments: parts.call.args } }] });
  }
  out += chunk({}, parts.finish);
  out += `data: ${JSON.stringify({ id: "chatcmpl-1", choices: [], usage: { prompt_tokens: 20, completion_tokens: 10, total_tokens: 30 } })}\n\n`;
  return `${out}data: [DONE]\n\n`;
}

function anthropicStream(parts: {
  text?: string;
  call?: { id: string; args: string };
  stop: string;
}): string {
  const ev = (data: Json) => `event: ${data.type}\ndata: ${JSON.stringify(data)}\n\n`;
  let out = ev({
    type: "message_start",
    message: {
      id: "msg_1",
      model: "claude-sonnet-4-5",
      content: [],
      usage: { input_tokens: 20, output_tokens: 1 },
    },
  });
  let index = 0;
  if (parts.text) {
    out += ev({ type: "content_block_start", index, content_block: { type: "text", text: "" } });
    out += ev({ type: "content_block_delta", index, delta: { type: "text_delta", text: parts.text } });
    out += ev({ type: "content_block_stop", index: index++ });
  }
  if (parts.call) {
    out += ev({
      type: "content_block_start",
      index,
      content_block: { type: "tool_use", id: parts.call.id, name: "get_weather", input: {} },
    });
    out += ev({
      type: "content_block_delta",
      index,
      delta: { type: "input_json_delta", partial_json: parts.call.args },
    });
    out += ev({ type: "content_block_stop", index });
  }
  out += ev({ type: "message_delta", delta: { stop_reason: parts.stop }, usage: { output_tokens: 10 } });
  return out + ev({ type: "message_stop" });
}

const weather = tool({
  description: "Current weather in a city",
  inputSchema: z.object({ city: z.string() }),
  execute: async ({ city }) => ({ city, temp: 18 }),
});

/** The second request of the loop: the tool round trip reaches the upstream, the earlier text reference is dropped. */
function expectSecondStep(seen: ResponsesTranslation[], callId: string): void {
  expect(seen).toHaveLength(2);
  const second = seen[1] as ResponsesTranslation;
  expect(second.warnings).toEqual([expect.stringMatching(/^dropped 1 item_reference/)]);
  expect(second.chat.messages.slice(1)).toEqual([
    {
      role: "assistant",
      content: null,
      tool_calls: [
        { id: callId, type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
      ],
    },
    { role: "tool", tool_call_id: callId, content: '{"city":"Paris","temp":18}' },
  ]);
}

describe("Vercel AI SDK, default OpenAI provider (Responses)", () => {
  const model = (fetch: ReturnType<typeof relay>["fetch"], name: string) =>
    createOpenAI({ baseURL: "http://relay.test/v1", apiKey: "relay_live_test", fetch })(name);

  it("streamText runs a tool loop against an OpenAI-compatible upstream", async () => {
    const { fetch, seen } = relay([
      {
        wire: "openai",
        text: chatStream({
          text: "Let me check.",
          call: { id: "call_w", args: '{"city":"Paris"}' },
          finish: "tool_calls",
        }),
      },
      { wire: "openai", text: chatStream({ text: "It is 18°C in Paris.", finish: "stop" }) },
    ]);
    const result = streamText({
      model: model(fetch, "groq:llama-3.3-70b"),
      prompt: "Weather in Paris?",
      tools: { get_weather: weather },
      stopWhen: stepCountIs(3),
    });
    let text = "";
    for await (const delta of result.textStream) text += delta;
    expect(text).toBe("Let me check.It is 18°C in Paris.");
    const steps = await result.steps;
    expect(steps[0]?.toolCalls.map((c) => [c.toolName, c.input])).toEqual([
      ["get_weather", { city: "Paris" }],
    ]);
    expect(steps[0]?.toolResults.map((r) => r.output)).toEqual([{ city: "Paris", temp: 18 }]);
    expect((await result.totalUsage).inputTokens).toBe(40);
    expectSecondStep(seen, "call_w");
  });

  it("streamText runs a tool loop against an Anthropic upstream", async () => {
    const { fetch, seen } = relay([
      {
        wire: "anthropic",
        text: anthropicStream({
          text: "Let me check.",
          call: { id: "toolu_w", args: '{"city":"Paris"}' },
          stop: "tool_use",
        }),
      },
      { wire: "anthropic", text: anthropicStream({ text: "It is 18°C in Paris.", stop: "end_turn" }) },
    ]);
    const result = streamText({
      model: model(fetch, "claude-sonnet-4-5"),
      prompt: "Weather in Paris?",
      tools: { get_weather: weather },
      stopWhen: stepCountIs(3),
    });
    let text = "";
    for await (const delta of result.textStream) text += delta;
    expect(text).toBe("Let me check.It is 18°C in Paris.");
    expect((await result.steps).map((s) => s.finishReason)).toEqual(["tool-calls", "stop"]);
    expectSecondStep(seen, "toolu_w");
  });

  it("generateText runs the same loop non-streamed", async () => {
    const completion = (message: Json, finish: string) =>
      JSON.stringify({
        id: "chatcmpl-2",
        model: "llama",
        choices: [{ index: 0, message: { role: "assistant", ...message }, finish_reason: finish }],
        usage: { prompt_tokens: 20, completion_tokens: 10, total_tokens: 30 },
      });
    const { fetch, seen } = relay([
      {
        wire: "openai",
        text: completion(
          {
            content: "Let me check.",
            tool_calls: [
              {
                id: "call_g",
                type: "function",
                function: { name: "get_weather", arguments: '{"city":"Paris"}' },
              },
            ],
          },
          "tool_calls",
        ),
      },
      { wire: "openai", text: completion({ content: "It is 18°C in Paris." }, "stop") },
    ]);
    const result = await generateText({
      model: model(fetch, "local:qwen3-8b"),
      prompt: "Weather in Paris?",
      tools: { get_weather: weather },
      stopWhen: stepCountIs(3),
    });
    expect(result.text).toBe("It is 18°C in Paris.");
    expect(result.steps[0]?.text).toBe("Let me check.");
    expect(result.totalUsage.outputTokens).toBe(20);
    expectSecondStep(seen, "call_g");
  });

  it("reports an upstream failure after the first byte as a stream error", async () => {
    const { fetch } = relay([{ wire: "openai", text: fixture("openai-stream-error.sse") }]);
    const result = streamText({ model: model(fetch, "groq:llama-3.3-70b"), prompt: "Hi", onError: () => {} });
    const parts: string[] = [];
    let error: unknown;
    for await (const part of result.fullStream) {
      parts.push(part.type);
      if (part.type === "error") error = part.error;
    }
    expect(parts).toContain("text-delta");
    expect(String((error as { message?: string })?.message ?? error)).toMatch(/error while processing/);
  });
});
