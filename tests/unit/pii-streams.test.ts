import Anthropic from "@anthropic-ai/sdk";
import fc from "fast-check";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { PiiSession, type PiiStreamAdapter } from "../../workers/guardrails/pii";

// during_call: the stream output must be exactly what the same text gives processed whole, however
// the upstream chunked it, in every stream format; and the official SDKs must accept what comes out.

const EMAIL = "john@example.com";
const PHONE = "+1 415 555 0100";
const CARD = "4111 1111 1111 1111";

/** A session whose request held EMAIL, PHONE and CARD: [EMAIL_1], [PHONE_1], [CARD_1]. */
function afterRequest(): PiiSession {
  const s = new PiiSession();
  s.redactRequest("chat", { messages: [{ role: "user", content: `${EMAIL}, ${PHONE}, ${CARD}` }] });
  return s;
}

const FRAGMENTS = [
  EMAIL,
  "Mary.Jones+x@mail.example.org",
  PHONE,
  "(415) 555-0100",
  "123-45-6789",
  CARD,
  "4111111111111111",
  "DE89 3704 0044 0532 0130 00",
  "192.168.1.10",
  "2001:db8::1",
  "sk-proj-Ab3dEfGhIjKlMnOpQrStUvWx12",
  "AKIAIOSFODNN7EXAMPLE",
  "[EMAIL_1]",
  "[PHONE_1]",
  "[CARD_1]",
  "[EMAIL_9]",
  "[NOTE_1]",
  "[",
  "]",
  "hello",
  "world",
  " ",
  ".",
  ",",
  ":",
  "-",
  "\n",
  "\\n",
  '"',
  "é",
  "电话",
  "😀",
  "v1.2.3.4",
  "version 10.0.0.1",
  "2024-01-15",
  "#",
  "@",
  "5",
  "41",
  "+",
  "(",
  "sk-",
  "AKIA",
];
const text = fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 24 }).map((parts) => parts.join(""));
const cutsArb = fc.array(fc.nat(), { maxLength: 10 });

/** `t` cut at the given points (taken modulo its length, deduplicated, in order). */
function chunksOf(t: string, cuts: number[]): string[] {
  const points = [...new Set(cuts.map((c) => c % (t.length + 1)))].sort((a, b) => a - b);
  const chunks: string[] = [];
  let prev = 0;
  for (const p of points) {
    chunks.push(t.slice(prev, p));
    prev = p;
  }
  chunks.push(t.slice(prev));
  return chunks;
}

function streamed(chunks: string[], options: { restore: boolean; json: boolean }): string {
  const stream = afterRequest().textStream(options);
  let out = "";
  for (const chunk of chunks) out += stream.push(chunk);
  return out + stream.flush();
}

describe("pii during_call: one text in chunks", () => {
  for (const json of [false, true])
    for (const restore of [true, false]) {
      it(`equals the whole-text result for any chunking (json ${json}, restore ${restore})`, () => {
        fc.assert(
          fc.property(text, cutsArb, (t, cuts) => {
            const whole = afterRequest().processText(t, { restore, json });
            expect(streamed(chunksOf(t, cuts), { restore, json })).toBe(whole);
          }),
          { numRuns: 1500 },
        );
      });
    }

  const sample =
    `Mail ${EMAIL} or [EMAIL_1]; call ${PHONE}/[PHONE_1]. Card ${CARD}, IP 10.0.0.1, ` +
    `électricité 😀 v1.2.3.4 [EMAIL_9] end`;

  it("catches values and placeholders split at every single boundary, and at every pair of boundaries", () => {
    for (const restore of [true, false]) {
      const whole = afterRequest().processText(sample, { restore });
      expect(whole).not.toBe(sample);
      for (let a = 0; a <= sample.length; a++) {
        expect(streamed([sample.slice(0, a), sample.slice(a)], { restore, json: false })).toBe(whole);
        for (let b = a; b <= sample.length; b += 3)
          expect(
            streamed([sample.slice(0, a), sample.slice(a, b), sample.slice(b)], { restore, json: false }),
          ).toBe(whole);
      }
      expect(streamed([...sample], { restore, json: false })).toBe(whole);
    }
  });

  it("restores and redacts as post_call does", () => {
    expect(streamed([...`Dear [EMAIL_1], we saw mary@example.org.`], { restore: true, json: false })).toBe(
      `Dear ${EMAIL}, we saw [EMAIL_2].`,
    );
    expect(streamed([...`Dear [EMAIL_1], we saw mary@example.org.`], { restore: false, json: false })).toBe(
      "Dear [EMAIL_1], we saw [EMAIL_2].",
    );
  });

  it("passes a long text without PII through unchanged, holding back at most the last word", () => {
    const words = [
      "the",
      "quick",
      "brown",
      "fox",
      "jumps",
      "over",
      "lazy",
      "dogs",
      "2024",
      "v1.2",
      "(see",
      "§3)",
    ];
    const stream = afterRequest().textStream({ restore: true });
    let input = "";
    let output = "";
    let maxHeld = 0;
    for (let k = 0; k < 5000; k++) {
      const token = `${k % 7 === 0 ? "\n" : " "}${words[k % words.length]}${k % 11 === 0 ? "," : ""}`;
      input += token;
      output += stream.push(token);
      maxHeld = Math.max(maxHeld, input.length - output.length);
    }
    output += stream.flush();
    expect(output).toBe(input);
    expect(maxHeld).toBeLessThanOrEqual(8);
  });

  it("bounds the hold-back on runs that look like the start of a value", () => {
    const runs = [
      "a".repeat(5000), // an e-mail local part that never meets an @
      "x@".concat("a".repeat(5000)), // a domain that never ends
      "sk-".concat("Ab1".repeat(2000)), // a key-like run too long for a key
      "4".repeat(5000), // digits
      "[EMAIL_".concat("1".repeat(100)), // a placeholder that never closes
    ];
    for (const run of runs) {
      const stream = afterRequest().textStream({ restore: true });
      let released = 0;
      let maxHeld = 0;
      for (let k = 0; k < run.length; k += 3) {
        released += stream.push(run.slice(k, k + 3)).length;
        maxHeld = Math.max(maxHeld, Math.min(run.length, k + 3) - released);
      }
      expect(released + stream.flush().length).toBe(run.length);
      expect(maxHeld).toBeLessThanOrEqual(330);
    }
  });
});

// --- Stream formats ---

type Event = Record<string, any>;

function run(adapter: PiiStreamAdapter, events: Event[]): Event[] {
  const out: Event[] = [];
  for (const event of events) out.push(...adapter.event(structuredClone(event)));
  out.push(...adapter.end());
  return out;
}

const TEXT = `Hello [EMAIL_1]! Your card ${CARD} and phone [PHONE_1] are on file; write to mary@example.org. 😀 [EMAIL_9]`;
const ARGS = `{"to":"[EMAIL_1]","cc":"mary@example.org","phone":[PHONE_1],"note":"line\\n${EMAIL}"}`;

const textArb = fc.constant(TEXT);
const argsArb = fc.constant(ARGS);

function expected(restore: boolean): { text: string; args: string } {
  const s = afterRequest();
  return { text: s.processText(TEXT, { restore }), args: s.processText(ARGS, { restore, json: true }) };
}

describe("pii during_call: chat completion chunks", () => {
  const envelope = { id: "chatcmpl-1", object: "chat.completion.chunk", created: 1, model: "gpt-4o-mini" };
  const chunk = (choice: Event, extra: Event = {}) => ({ ...envelope, choices: [choice], ...extra });

  function upstream(textChunks: string[], argChunks: string[][]): Event[] {
    const events: Event[] = [
      chunk({ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }),
    ];
    for (const c of textChunks) events.push(chunk({ index: 0, delta: { content: c }, finish_reason: null }));
    for (let call = 0; call < argChunks.length; call++) {
      const start = {
        index: call,
        id: `call_${call}`,
        type: "function",
        function: { name: "notify", arguments: "" },
      };
      events.push(chunk({ index: 0, delta: { tool_calls: [start] }, finish_reason: null }));
    }
    // Parallel calls' argument deltas interleave.
    const longest = Math.max(0, ...argChunks.map((a) => a.length));
    for (let k = 0; k < longest; k++)
      argChunks.forEach((chunks, call) => {
        if (k < chunks.length)
          events.push(
            chunk({
              index: 0,
              delta: { tool_calls: [{ index: call, function: { arguments: chunks[k] } }] },
              finish_reason: null,
            }),
          );
      });
    events.push(chunk({ index: 0, delta: {}, finish_reason: "tool_calls" }));
    events.push({
      ...envelope,
      choices: [],
      usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
    });
    return events;
  }

  function collect(out: Event[]) {
    let text = "";
    const args: string[] = [];
    let finishedAt = -1;
    out.forEach((ev, k) => {
      for (const choice of ev.choices ?? []) {
        if (finishedAt >= 0) throw new Error("a delta after finish_reason");
        text += choice.delta?.content ?? "";
        for (const call of choice.delta?.tool_calls ?? [])
          args[call.index] = (args[call.index] ?? "") + (call.function?.arguments ?? "");
        if (choice.finish_reason) finishedAt = k;
      }
    });
    return { text, args, finishedAt };
  }

  for (const restore of [true, false])
    it(`rewrites content and every tool call's arguments, however chunked (restore ${restore})`, () => {
      const want = expected(restore);
      fc.assert(
        fc.property(textArb, argsArb, cutsArb, cutsArb, cutsArb, (t, a, c1, c2, c3) => {
          const s = afterRequest();
          const out = run(
            s.streamAdapter("chat", { restore }),
            upstream(chunksOf(t, c1), [chunksOf(a, c2), chunksOf(a, c3)]),
          );
          const got = collect(out);
          expect(got.text).toBe(want.text);
          expect(got.args).toEqual([want.args, want.args]);
          expect(out[got.finishedAt]?.choices[0].delta).toEqual({});
          expect(out.at(-1)?.usage).toEqual({ prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 });
        }),
        { numRuns: 300 },
      );
    });

  it("splits a finishing chunk that carries content: its text and the held tail first, then the finish", () => {
    const s = afterRequest();
    const adapter = s.streamAdapter("chat", { restore: true });
    expect(adapter.event(chunk({ index: 0, delta: { content: "Mail [EMA" }, finish_reason: null }))).toEqual([
      chunk({ index: 0, delta: { content: "Mail " }, finish_reason: null }),
    ]);
    expect(adapter.lastUnchanged).toBe(false);
    const out = adapter.event(
      chunk(
        { index: 0, delta: { content: "IL_1] now" }, logprobs: null, finish_reason: "stop" },
        { usage: { total_tokens: 3 } },
      ),
    );
    expect(out).toEqual([
      chunk({ index: 0, delta: { content: `${EMAIL} now` }, logprobs: null, finish_reason: null }),
      chunk({ index: 0, delta: {}, logprobs: null, finish_reason: "stop" }, { usage: { total_tokens: 3 } }),
    ]);
    expect(adapter.end()).toEqual([]);
  });

  it("forwards untouched chunks as they came, and removes log-probabilities", () => {
    const adapter = afterRequest().streamAdapter("chat", { restore: true });
    const role = chunk({ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null });
    expect(adapter.event(role)[0]).toBe(role);
    expect(adapter.lastUnchanged).toBe(true);
    const withLogprobs = chunk({
      index: 0,
      delta: { content: "Hi " },
      logprobs: { content: [{ token: "Hi" }] },
      finish_reason: null,
    });
    expect((adapter.event(withLogprobs)[0] as Event).choices[0].logprobs).toBeNull();
    expect(adapter.lastUnchanged).toBe(false);
  });

  it("covers the legacy function_call arguments and refusals too", () => {
    const adapter = afterRequest().streamAdapter("chat", { restore: true });
    const out = run(adapter, [
      chunk({
        index: 0,
        delta: { function_call: { name: "mail", arguments: '{"to":"[EMA' } },
        finish_reason: null,
      }),
      chunk({ index: 0, delta: { function_call: { arguments: 'IL_1]"}' } }, finish_reason: null }),
      chunk({ index: 0, delta: { refusal: "Not for x@example.org" }, finish_reason: null }),
      chunk({ index: 0, delta: {}, finish_reason: "function_call" }),
    ]);
    let args = "";
    let refusal = "";
    for (const ev of out) {
      args += ev.choices[0].delta.function_call?.arguments ?? "";
      refusal += ev.choices[0].delta.refusal ?? "";
    }
    expect(args).toBe(`{"to":"${EMAIL}"}`);
    expect(refusal).toBe("Not for [EMAIL_2]");
    expect(out.at(-1)?.choices[0].finish_reason).toBe("function_call");
  });

  it("sends held text at the end of a stream that never finished", () => {
    const adapter = afterRequest().streamAdapter("chat", { restore: true });
    adapter.event(chunk({ index: 0, delta: { content: "to [EMAIL_1" }, finish_reason: null }));
    expect(adapter.end()).toEqual([
      {
        ...envelope,
        system_fingerprint: undefined,
        choices: [{ index: 0, delta: { content: "[EMAIL_1" }, logprobs: null, finish_reason: null }],
      },
    ]);
  });
});

describe("pii during_call: Anthropic events", () => {
  function upstream(textChunks: string[], argChunks: string[]): Event[] {
    return [
      {
        type: "message_start",
        message: {
          id: "msg_1",
          type: "message",
          role: "assistant",
          model: "claude-test",
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: 10, output_tokens: 1 },
        },
      },
      { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
      { type: "ping" },
      // Anthropic sends no empty deltas, and neither may the adapter.
      ...textChunks
        .filter((c) => c !== "")
        .map((c) => ({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: c } })),
      { type: "content_block_stop", index: 0 },
      {
        type: "content_block_start",
        index: 1,
        content_block: { type: "tool_use", id: "toolu_1", name: "notify", input: {} },
      },
      ...argChunks
        .filter((c) => c !== "")
        .map((c) => ({
          type: "content_block_delta",
          index: 1,
          delta: { type: "input_json_delta", partial_json: c },
        })),
      { type: "content_block_stop", index: 1 },
      {
        type: "message_delta",
        delta: { stop_reason: "tool_use", stop_sequence: null },
        usage: { output_tokens: 20 },
      },
      { type: "message_stop" },
    ];
  }

  function collect(out: Event[]) {
    const blocks: string[] = [];
    const stopped = new Set<number>();
    for (const ev of out) {
      if (ev.type === "content_block_stop") stopped.add(ev.index);
      if (ev.type !== "content_block_delta") continue;
      if (stopped.has(ev.index)) throw new Error("a delta after its block stopped");
      const piece = ev.delta.text ?? ev.delta.partial_json;
      if (piece === "") throw new Error("an empty delta");
      blocks[ev.index] = (blocks[ev.index] ?? "") + piece;
    }
    return blocks;
  }

  for (const restore of [true, false])
    it(`rewrites text and input_json deltas per block, however chunked (restore ${restore})`, () => {
      const want = expected(restore);
      fc.assert(
        fc.property(textArb, argsArb, cutsArb, cutsArb, (t, a, c1, c2) => {
          const out = run(
            afterRequest().streamAdapter("messages", { restore }),
            upstream(chunksOf(t, c1), chunksOf(a, c2)),
          );
          expect(collect(out)).toEqual([want.text, want.args]);
          expect(out.at(-1)).toEqual({ type: "message_stop" });
        }),
        { numRuns: 300 },
      );
    });

  it("drops a delta that is held back whole, and sends it before content_block_stop", () => {
    const adapter = afterRequest().streamAdapter("messages", { restore: true });
    const delta = (text: string) => ({
      type: "content_block_delta",
      index: 0,
      delta: { type: "text_delta", text },
    });
    expect(adapter.event(delta("[PHO"))).toEqual([]);
    expect(adapter.event(delta("NE_1"))).toEqual([]);
    expect(adapter.event({ type: "content_block_stop", index: 0 })).toEqual([
      delta("[PHONE_1"),
      { type: "content_block_stop", index: 0 },
    ]);
  });

  it("restores placeholders in citations, which quote the (redacted) documents whole", () => {
    const adapter = afterRequest().streamAdapter("messages", { restore: true });
    const citation = {
      type: "content_block_delta",
      index: 0,
      delta: {
        type: "citations_delta",
        citation: { type: "char_location", cited_text: "Mail [EMAIL_1]", document_index: 0 },
      },
    };
    expect((adapter.event(citation)[0] as Event).delta.citation.cited_text).toBe(`Mail ${EMAIL}`);
  });

  it("leaves thinking and signatures alone", () => {
    const adapter = afterRequest().streamAdapter("messages", { restore: true });
    const thinking = {
      type: "content_block_delta",
      index: 0,
      delta: { type: "thinking_delta", thinking: `user ${EMAIL}` },
    };
    expect(adapter.event(thinking)).toEqual([thinking]);
    expect(adapter.lastUnchanged).toBe(true);
  });
});

describe("pii during_call: Responses events", () => {
  function upstream(textChunks: string[], argChunks: string[]): Event[] {
    const message = { type: "message", id: "msg_1", role: "assistant", status: "in_progress", content: [] };
    const part = { type: "output_text", text: "", annotations: [], logprobs: [] };
    const call = {
      type: "function_call",
      id: "fc_1",
      call_id: "call_1",
      name: "notify",
      arguments: "",
      status: "in_progress",
    };
    const doneMessage = { ...message, status: "completed", content: [{ ...part, text: TEXT }] };
    const doneCall = { ...call, arguments: ARGS, status: "completed" };
    const response = (status: string, output: unknown[]) => ({
      id: "resp_1",
      object: "response",
      created_at: 1,
      status,
      model: "gpt-4.1",
      instructions: "Be brief with [EMAIL_1].",
      output,
      parallel_tool_calls: true,
      tool_choice: "auto",
      tools: [],
      usage: status === "completed" ? { input_tokens: 1, output_tokens: 2, total_tokens: 3 } : null,
    });
    const events: Event[] = [
      { type: "response.created", response: response("in_progress", []) },
      { type: "response.in_progress", response: response("in_progress", []) },
      { type: "response.output_item.added", output_index: 0, item: message },
      { type: "response.content_part.added", item_id: "msg_1", output_index: 0, content_index: 0, part },
      ...textChunks.map((delta) => ({
        type: "response.output_text.delta",
        item_id: "msg_1",
        output_index: 0,
        content_index: 0,
        delta,
        logprobs: [],
      })),
      {
        type: "response.output_text.done",
        item_id: "msg_1",
        output_index: 0,
        content_index: 0,
        text: TEXT,
        logprobs: [],
      },
      {
        type: "response.content_part.done",
        item_id: "msg_1",
        output_index: 0,
        content_index: 0,
        part: { ...part, text: TEXT },
      },
      { type: "response.output_item.done", output_index: 0, item: doneMessage },
      { type: "response.output_item.added", output_index: 1, item: call },
      ...argChunks.map((delta) => ({
        type: "response.function_call_arguments.delta",
        item_id: "fc_1",
        output_index: 1,
        delta,
      })),
      {
        type: "response.function_call_arguments.done",
        item_id: "fc_1",
        output_index: 1,
        name: "notify",
        arguments: ARGS,
      },
      { type: "response.output_item.done", output_index: 1, item: doneCall },
      { type: "response.completed", response: response("completed", [doneMessage, doneCall]) },
    ];
    return events.map((ev, k) => ({ ...ev, sequence_number: k }));
  }

  for (const restore of [true, false])
    it(`keeps deltas, *.done events and the final response in agreement, however chunked (restore ${restore})`, () => {
      const want = expected(restore);
      fc.assert(
        fc.property(textArb, argsArb, cutsArb, cutsArb, (t, a, c1, c2) => {
          const s = afterRequest();
          const out = run(
            s.streamAdapter("responses", { restore }),
            upstream(chunksOf(t, c1), chunksOf(a, c2)),
          );
          expect(out.map((ev) => ev.sequence_number)).toEqual(out.map((_, k) => k));
          const deltas = (type: string) =>
            out
              .filter((ev) => ev.type === type)
              .map((ev) => ev.delta)
              .join("");
          expect(deltas("response.output_text.delta")).toBe(want.text);
          expect(deltas("response.function_call_arguments.delta")).toBe(want.args);
          const one = (type: string) => out.filter((ev) => ev.type === type);
          // Every delta of a part comes before the part's done event.
          const textDone = out.findIndex((ev) => ev.type === "response.output_text.done");
          expect(out.slice(textDone).some((ev) => ev.type === "response.output_text.delta")).toBe(false);
          expect(one("response.output_text.done")[0]?.text).toBe(want.text);
          expect(one("response.content_part.done")[0]?.part.text).toBe(want.text);
          expect(one("response.function_call_arguments.done")[0]?.arguments).toBe(want.args);
          const items = one("response.output_item.done");
          expect(items[0]?.item.content[0].text).toBe(want.text);
          expect(items[1]?.item.arguments).toBe(want.args);
          const completed = one("response.completed")[0]?.response;
          expect(completed.output[0].content[0].text).toBe(want.text);
          expect(completed.output[1].arguments).toBe(want.args);
          expect(completed.instructions).toBe(
            restore ? `Be brief with ${EMAIL}.` : "Be brief with [EMAIL_1].",
          );
          // Each value was counted once, however many events repeat it.
          expect(s.report().response).toEqual(restore ? { email: 2 } : { email: 3, card: 1 });
        }),
        { numRuns: 300 },
      );
    });
});

describe("pii during_call: Responses items that arrive whole", () => {
  it("processes text no delta carried once, and counts it once however often it is repeated", () => {
    const s = afterRequest();
    const adapter = s.streamAdapter("responses", { restore: true });
    const call = {
      type: "function_call",
      id: "fc_1",
      call_id: "c",
      name: "mail",
      arguments: '{"to":"bob@example.org","n":"[PHONE_1]"}',
    };
    const done = adapter.event({
      type: "response.output_item.done",
      output_index: 0,
      item: structuredClone(call),
      sequence_number: 1,
    });
    const want = `{"to":"[EMAIL_2]","n":"${PHONE}"}`;
    expect((done[0] as Event).item.arguments).toBe(want);
    const completed = adapter.event({
      type: "response.completed",
      response: { id: "r", object: "response", status: "completed", output: [structuredClone(call)] },
      sequence_number: 2,
    });
    expect((completed[0] as Event).response.output[0].arguments).toBe(want);
    expect(s.report().response).toEqual({ email: 1 });
    expect(s.report().restored).toBe(1);
  });

  it("streams refusals like text", () => {
    const adapter = afterRequest().streamAdapter("responses", { restore: false });
    const base = { item_id: "m", output_index: 0, content_index: 0 };
    const out = run(adapter, [
      { type: "response.refusal.delta", ...base, delta: "Cannot email mary@exa", sequence_number: 0 },
      { type: "response.refusal.delta", ...base, delta: "mple.org", sequence_number: 1 },
      {
        type: "response.refusal.done",
        ...base,
        refusal: "Cannot email mary@example.org",
        sequence_number: 2,
      },
    ]);
    expect(
      out
        .filter((ev) => ev.type === "response.refusal.delta")
        .map((ev) => ev.delta)
        .join(""),
    ).toBe("Cannot email [EMAIL_2]");
    expect(out.at(-1)).toEqual({
      type: "response.refusal.done",
      ...base,
      refusal: "Cannot email [EMAIL_2]",
      sequence_number: 3,
    });
  });
});

// --- The official SDKs read what comes out ---

function sse(events: Event[], named: boolean, done = false): Response {
  let body = "";
  for (const ev of events) body += `${named ? `event: ${ev.type}\n` : ""}data: ${JSON.stringify(ev)}\n\n`;
  if (done) body += "data: [DONE]\n\n";
  return new Response(body, { headers: { "content-type": "text/event-stream" } });
}

function serve(response: () => Response): typeof fetch {
  return (async () => response()) as typeof fetch;
}

describe("pii during_call: the official SDKs", () => {
  const wantText = `Hello ${EMAIL}! Your card ${CARD} and phone ${PHONE} are on file; write to [EMAIL_2]. 😀 [EMAIL_9]`;
  const wantArgs = { to: EMAIL, cc: "[EMAIL_2]", phone: PHONE, note: `line\n${EMAIL}` };
  const pieces = (t: string) => t.match(/.{1,3}/gsu) ?? [];

  it("OpenAI chat completions stream", async () => {
    const s = afterRequest();
    const envelope = { id: "chatcmpl-1", object: "chat.completion.chunk", created: 1, model: "gpt-4o-mini" };
    const upstream: Event[] = [
      {
        ...envelope,
        choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }],
      },
      ...pieces(TEXT).map((content) => ({
        ...envelope,
        choices: [{ index: 0, delta: { content }, finish_reason: null }],
      })),
      {
        ...envelope,
        choices: [
          {
            index: 0,
            delta: {
              tool_calls: [
                { index: 0, id: "call_1", type: "function", function: { name: "notify", arguments: "" } },
              ],
            },
            finish_reason: null,
          },
        ],
      },
      ...pieces(ARGS).map((args) => ({
        ...envelope,
        choices: [
          {
            index: 0,
            delta: { tool_calls: [{ index: 0, function: { arguments: args } }] },
            finish_reason: null,
          },
        ],
      })),
      { ...envelope, choices: [{ index: 0, delta: {}, finish_reason: "tool_calls" }] },
    ];
    const out = run(s.streamAdapter("chat", { restore: true }), upstream);
    const client = new OpenAI({
      apiKey: "k",
      baseURL: "http://relay.test/v1",
      fetch: serve(() => sse(out, false, true)),
      maxRetries: 0,
    });
    const runner = client.chat.completions.stream({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "hi" }],
    });
    let deltas = "";
    runner.on("content", (delta) => {
      deltas += delta;
    });
    const completion = await runner.finalChatCompletion();
    const message = completion.choices[0]?.message;
    expect(message?.content).toBe(wantText);
    expect(deltas).toBe(wantText);
    const call = message?.tool_calls?.[0];
    expect(call?.type === "function" && JSON.parse(call.function.arguments)).toEqual(wantArgs);
    expect(completion.choices[0]?.finish_reason).toBe("tool_calls");
  });

  it("Anthropic messages stream", async () => {
    const s = afterRequest();
    const upstream: Event[] = [
      {
        type: "message_start",
        message: {
          id: "msg_1",
          type: "message",
          role: "assistant",
          model: "claude-test",
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: 10, output_tokens: 1 },
        },
      },
      { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
      ...pieces(TEXT).map((text) => ({
        type: "content_block_delta",
        index: 0,
        delta: { type: "text_delta", text },
      })),
      { type: "content_block_stop", index: 0 },
      {
        type: "content_block_start",
        index: 1,
        content_block: { type: "tool_use", id: "toolu_1", name: "notify", input: {} },
      },
      ...pieces(ARGS).map((p) => ({
        type: "content_block_delta",
        index: 1,
        delta: { type: "input_json_delta", partial_json: p },
      })),
      { type: "content_block_stop", index: 1 },
      {
        type: "message_delta",
        delta: { stop_reason: "tool_use", stop_sequence: null },
        usage: { output_tokens: 20 },
      },
      { type: "message_stop" },
    ];
    const out = run(s.streamAdapter("messages", { restore: true }), upstream);
    const client = new Anthropic({
      apiKey: "k",
      baseURL: "http://relay.test",
      fetch: serve(() => sse(out, true)),
      maxRetries: 0,
    });
    const stream = client.messages.stream({
      model: "claude-test",
      max_tokens: 100,
      messages: [{ role: "user", content: "hi" }],
    });
    let deltas = "";
    stream.on("text", (delta) => {
      deltas += delta;
    });
    const message = await stream.finalMessage();
    expect(message.content[0]).toMatchObject({ type: "text", text: wantText });
    expect(deltas).toBe(wantText);
    expect(message.content[1]).toMatchObject({ type: "tool_use", input: wantArgs });
  });

  it("OpenAI Responses stream", async () => {
    const s = afterRequest();
    const message = { type: "message", id: "msg_1", role: "assistant", status: "in_progress", content: [] };
    const part = { type: "output_text", text: "", annotations: [], logprobs: [] };
    const call = {
      type: "function_call",
      id: "fc_1",
      call_id: "call_1",
      name: "notify",
      arguments: "",
      status: "in_progress",
    };
    const doneMessage = { ...message, status: "completed", content: [{ ...part, text: TEXT }] };
    const doneCall = { ...call, arguments: ARGS, status: "completed" };
    const response = (status: string, output: unknown[]) => ({
      id: "resp_1",
      object: "response",
      created_at: 1,
      status,
      model: "gpt-4.1",
      output,
      parallel_tool_calls: true,
      tool_choice: "auto",
      tools: [],
    });
    const upstream: Event[] = [
      { type: "response.created", response: response("in_progress", []) },
      { type: "response.output_item.added", output_index: 0, item: message },
      { type: "response.content_part.added", item_id: "msg_1", output_index: 0, content_index: 0, part },
      ...pieces(TEXT).map((delta) => ({
        type: "response.output_text.delta",
        item_id: "msg_1",
        output_index: 0,
        content_index: 0,
        delta,
        logprobs: [],
      })),
      {
        type: "response.output_text.done",
        item_id: "msg_1",
        output_index: 0,
        content_index: 0,
        text: TEXT,
        logprobs: [],
      },
      {
        type: "response.content_part.done",
        item_id: "msg_1",
        output_index: 0,
        content_index: 0,
        part: { ...part, text: TEXT },
      },
      { type: "response.output_item.done", output_index: 0, item: doneMessage },
      { type: "response.output_item.added", output_index: 1, item: call },
      ...pieces(ARGS).map((delta) => ({
        type: "response.function_call_arguments.delta",
        item_id: "fc_1",
        output_index: 1,
        delta,
      })),
      {
        type: "response.function_call_arguments.done",
        item_id: "fc_1",
        output_index: 1,
        name: "notify",
        arguments: ARGS,
      },
      { type: "response.output_item.done", output_index: 1, item: doneCall },
      { type: "response.completed", response: response("completed", [doneMessage, doneCall]) },
    ].map((ev, k) => ({ ...ev, sequence_number: k }));
    const out = run(s.streamAdapter("responses", { restore: true }), upstream);
    const client = new OpenAI({
      apiKey: "k",
      baseURL: "http://relay.test/v1",
      fetch: serve(() => sse(out, true)),
      maxRetries: 0,
    });
    const stream = client.responses.stream({ model: "gpt-4.1", input: "hi" });
    let deltas = "";
    stream.on("response.output_text.delta", (ev) => {
      deltas += ev.delta;
    });
    const final = await stream.finalResponse();
    expect(final.output_text).toBe(wantText);
    expect(deltas).toBe(wantText);
    const fn = final.output[1];
    expect(fn?.type === "function_call" && JSON.parse(fn.arguments)).toEqual(wantArgs);
  });
});
