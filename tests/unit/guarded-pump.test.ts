import { describe, expect, it } from "vitest";
import { SseParser } from "../../common/sse";
import type { StreamPump } from "../../workers/gateway/stream-pumps";
import { GuardedPump } from "../../workers/guardrails/gateway";
import { PiiSession } from "../../workers/guardrails/pii";

// The during_call pump on the gateway's stream path: behind the route's own pump, whatever bytes it
// hands over and however they are cut, the client gets the restored text in events of its format,
// the untouched events byte for byte, and held text before `[DONE]`.

const EMAIL = "john@example.com";
const enc = new TextEncoder();
const dec = new TextDecoder();

/** The route's pump, as a pass-through: what comes in goes out. */
class Identity implements StreamPump {
  push(chunk: Uint8Array): Uint8Array {
    return chunk;
  }
  end(): Uint8Array {
    return new Uint8Array(0);
  }
  error(message: string): Uint8Array {
    return enc.encode(`data: {"error":{"message":"${message}"}}\n\n`);
  }
  usage() {
    return { input: 1, output: 2, cached: 0 };
  }
}

function session(): PiiSession {
  const s = new PiiSession();
  s.redactRequest("chat", { messages: [{ role: "user", content: `mail ${EMAIL}` }] });
  return s;
}

const chunk = (delta: unknown, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;

const CHAT_STREAM = [
  ": keep-alive comment\n\n",
  chunk({ role: "assistant", content: "" }),
  chunk({ content: "Write to [EMA" }),
  chunk({ content: "IL_1] tod" }),
  chunk({ content: "ay" }),
  chunk({}, "stop"),
  "data: [DONE]\n\n",
].join("");

/** Runs `bytes` through a guarded pump in pieces cut at `cuts`. */
function pipe(pump: StreamPump, bytes: Uint8Array, cuts: number[]): string {
  let out = "";
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    out += dec.decode(pump.push(bytes.subarray(from, cut)));
    from = cut;
  }
  return out + dec.decode(pump.end());
}

function events(text: string) {
  const p = new SseParser();
  return [...p.push(text), ...p.flush()];
}

function chatText(text: string): string {
  return events(text)
    .filter((e) => e.data !== "[DONE]")
    .map((e) => JSON.parse(e.data).choices?.[0]?.delta?.content ?? "")
    .join("");
}

describe("GuardedPump", () => {
  it("restores a placeholder split across chat events, however the bytes are cut", () => {
    const bytes = enc.encode(CHAT_STREAM);
    // Every single cut point, and every byte on its own.
    const variants = [
      [] as number[],
      ...Array.from({ length: bytes.length - 1 }, (_, i) => [i + 1]),
      Array.from({ length: bytes.length - 1 }, (_, i) => i + 1),
    ];
    for (const cuts of variants) {
      const s = session();
      const out = pipe(new GuardedPump(new Identity(), s.streamAdapter("chat"), false), bytes, cuts);
      expect(chatText(out)).toBe(`Write to ${EMAIL} today`);
      const list = events(out);
      expect(list.at(-1)?.data).toBe("[DONE]");
      expect(JSON.parse(list.at(-2)?.data ?? "{}").choices[0].finish_reason).toBe("stop");
    }
  });

  it("forwards events it leaves alone byte for byte", () => {
    const s = session();
    const plain = chunk({ content: "nothing to see " });
    const pump = new GuardedPump(new Identity(), s.streamAdapter("chat"), false);
    const out = dec.decode(pump.push(enc.encode(chunk({ role: "assistant", content: "" }) + plain)));
    expect(out).toContain(plain);
    expect(pump.usage()).toEqual({ input: 1, output: 2, cached: 0 });
  });

  it("keeps the event names of Anthropic streams", () => {
    const s = session();
    const ev = (type: string, data: Record<string, unknown>) =>
      `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
    const stream = [
      ev("message_start", { message: { id: "m", type: "message", role: "assistant", content: [] } }),
      ev("content_block_start", { index: 0, content_block: { type: "text", text: "" } }),
      ev("content_block_delta", { index: 0, delta: { type: "text_delta", text: "Hi [EMAIL" } }),
      ev("content_block_delta", { index: 0, delta: { type: "text_delta", text: "_1]!" } }),
      ev("content_block_stop", { index: 0 }),
      ev("message_stop", {}),
    ].join("");
    const out = pipe(
      new GuardedPump(new Identity(), s.streamAdapter("messages"), true),
      enc.encode(stream),
      [37, 150],
    );
    const list = events(out);
    for (const e of list) expect(e.event).toBe(JSON.parse(e.data).type);
    const text = list
      .map((e) => JSON.parse(e.data))
      .filter((d) => d.type === "content_block_delta")
      .map((d) => d.delta.text)
      .join("");
    expect(text).toBe(`Hi ${EMAIL}!`);
    expect(list.at(-1)?.event).toBe("message_stop");
  });
});
