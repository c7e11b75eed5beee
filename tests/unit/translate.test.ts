import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { SseParser } from "../../common/sse";
import { chatToMessages } from "../../workers/translate/chat-to-messages";
import { messagesToChat } from "../../workers/translate/messages-to-chat";
import { anthropicToChatCompletion, chatCompletionToAnthropic } from "../../workers/translate/responses";
import { AnthropicToOpenAIStream, OpenAIToAnthropicStream } from "../../workers/translate/streams";
import { golden, fixtureJson as json, fixture as read, runStream } from "../helpers/golden";

beforeAll(() => {
  vi.useFakeTimers();
  vi.setSystemTime(new Date("2026-01-02T03:04:05Z"));
  vi.spyOn(crypto, "randomUUID").mockReturnValue("00000000-0000-4000-8000-000000000000");
});
afterAll(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe("request translation", () => {
  it("Chat Completions → Anthropic Messages", () => {
    const out = chatToMessages(json("chat-request.json"), "claude-sonnet-4-5", 4096);
    golden("chat-request.to-anthropic.json", `${JSON.stringify(out, null, 2)}\n`);
  });

  it("Anthropic Messages → Chat Completions", () => {
    const out = messagesToChat(json("messages-request.json"), "llama-3.1-8b");
    golden("messages-request.to-openai.json", `${JSON.stringify(out, null, 2)}\n`);
  });

  it("picks a max_tokens default for Anthropic and refuses n > 1", () => {
    expect(
      chatToMessages({ model: "m", messages: [{ role: "user", content: "x" }] }, "m", 4096).max_tokens,
    ).toBe(4096);
    expect(() =>
      chatToMessages({ model: "m", n: 2, messages: [{ role: "user", content: "x" }] }, "m", 4096),
    ).toThrow(/n must be 1/);
    expect(() =>
      chatToMessages(
        {
          model: "m",
          messages: [
            {
              role: "assistant",
              tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "{oops" } }],
            },
          ],
        },
        "m",
        4096,
      ),
    ).toThrow(/not valid JSON/);
  });
});

describe("response translation", () => {
  it("Anthropic message → chat.completion (parallel tool calls, cached usage)", () => {
    const { body, usage } = anthropicToChatCompletion(json("anthropic-response.json"));
    expect(usage).toEqual({ input: 170, output: 40, cached: 50 });
    golden("anthropic-response.to-openai.json", `${JSON.stringify(body, null, 2)}\n`);
  });

  it("chat.completion → Anthropic message (broken arguments kept, not lost)", () => {
    const { body, usage } = chatCompletionToAnthropic(json("chat-completion.json"), "llama-3.1-8b");
    expect(usage).toEqual({ input: 120, output: 30, cached: 64 });
    golden("chat-completion.to-anthropic.json", `${JSON.stringify(body, null, 2)}\n`);
  });
});

describe("stream translation", () => {
  it("Anthropic events → chat.completion.chunk events, usage chunk included", () => {
    const translator = new AnthropicToOpenAIStream("claude-sonnet-4-5", true);
    golden("anthropic-stream.to-openai.sse", runStream(translator, read("anthropic-stream.sse")));
    expect(translator.usage()).toEqual({ input: 35, output: 42, cached: 10 });
  });

  it("chat.completion.chunk events → Anthropic events", () => {
    const translator = new OpenAIToAnthropicStream("llama-3.1-8b");
    golden("openai-stream.to-anthropic.sse", runStream(translator, read("openai-stream.sse")));
    expect(translator.usage()).toEqual({ input: 50, output: 20, cached: 16 });
  });
});

describe("SSE parser", () => {
  it("handles CRLF split across chunks, comments, multi-line data and a missing final blank line", () => {
    const parser = new SseParser();
    const events = [
      ...parser.push(": heartbeat\r"),
      ...parser.push("\n\r\nevent: a\r\ndata: one\r"),
      ...parser.push("\ndata: two\r\n\r\ndata: tail"),
      ...parser.flush(),
    ];
    expect(events.map(({ event, data }) => ({ event, data }))).toEqual([
      { event: "a", data: "one\ntwo" },
      { event: undefined, data: "tail" },
    ]);
  });
});

describe("OpenAI pass-through on bytes", () => {
  it("forwards events as they came, removes the injected usage chunk, keeps usage, whatever the chunking", async () => {
    const { OpenAIBytePassthrough, mentionsUsage } = await import("../../workers/gateway/stream-pumps");
    const input = new TextEncoder().encode(read("openai-stream.sse"));
    const expected = read("openai-stream.sse").replace(/data: \{[^\n]*"choices":\[\],"usage"[^\n]*\n\n/, "");
    for (const size of [1, 7, 64, 1000, input.length]) {
      const pump = new OpenAIBytePassthrough(true);
      const parts: Uint8Array[] = [];
      for (let i = 0; i < input.length; i += size) parts.push(pump.push(input.subarray(i, i + size)));
      parts.push(pump.end());
      const out = new TextDecoder().decode(Buffer.concat(parts));
      expect(out, `chunk size ${size}`).toBe(expected);
      expect(pump.usage()).toEqual({ input: 50, output: 20, cached: 16 });
    }
    const kept = new OpenAIBytePassthrough(false);
    const whole = new TextDecoder().decode(Buffer.concat([kept.push(input), kept.end()]));
    expect(whole).toBe(read("openai-stream.sse"));
    expect(mentionsUsage(new TextEncoder().encode('{"content":"the \\"usage\\" word"}'))).toBe(false);
    expect(mentionsUsage(new TextEncoder().encode('{"usage":{}}'))).toBe(true);
  });
});

describe("Anthropic pass-through on bytes", () => {
  it("forwards events as they came and reads usage from message_start and message_delta, whatever the chunking", async () => {
    const { BytePassthrough, TextPump } = await import("../../workers/gateway/stream-pumps");
    const { AnthropicPassthrough } = await import("../../workers/translate/streams");
    const text = read("anthropic-stream.sse");
    const input = new TextEncoder().encode(text);
    // The event-by-event pump is the reference for usage.
    const reference = new TextPump(new AnthropicPassthrough());
    reference.push(input);
    reference.end();
    expect(reference.usage()).not.toBeNull();
    for (const size of [1, 7, 64, 1000, input.length]) {
      const pump = new BytePassthrough(new AnthropicPassthrough());
      const parts: Uint8Array[] = [];
      for (let i = 0; i < input.length; i += size) parts.push(pump.push(input.subarray(i, i + size)));
      parts.push(pump.end());
      expect(new TextDecoder().decode(Buffer.concat(parts)), `chunk size ${size}`).toBe(text);
      expect(pump.usage(), `chunk size ${size}`).toEqual(reference.usage());
    }
  });
});
