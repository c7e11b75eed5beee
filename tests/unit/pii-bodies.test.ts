import { describe, expect, it } from "vitest";
import { PiiSession } from "../../workers/guardrails/pii";
import type { Actions } from "../../workers/guardrails/pii/scanner";
import { Scanner } from "../../workers/guardrails/pii/scanner";
import { Mapping } from "../../workers/guardrails/pii/session";

// pre_call and post_call on the three wire formats' bodies, and the session's mapping.

const EMAIL = "john@example.com";
const PHONE = "+1 415 555 0100";
const CARD = "4111 1111 1111 1111";
const RAW = [EMAIL, PHONE, CARD, "123-45-6789", "10.0.0.7", "sk-proj-Ab3dEfGhIjKlMnOpQrStUvWx12yz"];

/** Every raw value that still appears in a serialised body. */
function leaks(body: unknown): string[] {
  const text = JSON.stringify(body);
  return RAW.filter((v) => text.includes(v) || text.includes(JSON.stringify(v).slice(1, -1)));
}

const clone = <T>(v: T): T => structuredClone(v);

describe("pii session: placeholders", () => {
  it("gives a value the same placeholder wherever it appears, and numbers per category", () => {
    const s = new PiiSession();
    expect(s.redactText(`${EMAIL} ${PHONE} bob@example.org ${EMAIL}`)).toBe(
      "[EMAIL_1] [PHONE_1] [EMAIL_2] [EMAIL_1]",
    );
    expect(s.redactText(`again ${EMAIL}, then ${PHONE}`)).toBe("again [EMAIL_1], then [PHONE_1]");
  });

  it("keeps sessions apart: a mapping lives for one request", () => {
    const a = new PiiSession();
    const b = new PiiSession();
    a.redactText("x@example.com");
    expect(b.redactText(EMAIL)).toBe("[EMAIL_1]");
    expect(b.processText("[EMAIL_1]")).toBe(EMAIL);
    expect(a.processText("[EMAIL_1]")).toBe("x@example.com");
  });

  it("never hands out or restores a placeholder the caller wrote literally", () => {
    const s = new PiiSession();
    // Literal before any value: the value gets the next free number.
    expect(s.redactText(`template [EMAIL_1], real ${EMAIL}`)).toBe("template [EMAIL_1], real [EMAIL_2]");
    expect(s.processText("[EMAIL_1] / [EMAIL_2]", { restore: true })).toBe(`[EMAIL_1] / ${EMAIL}`);
    // Literal after the value took it: the placeholder is ambiguous and stays.
    const t = new PiiSession();
    t.redactText(`mine: ${EMAIL}`);
    t.redactText("and the text says [EMAIL_1]");
    expect(t.processText("[EMAIL_1]", { restore: true })).toBe("[EMAIL_1]");
    // The model repeating the value itself gets the (unrestorable) placeholder.
    expect(t.processText(EMAIL, { restore: true })).toBe("[EMAIL_1]");
  });

  it("reports counts and categories only", () => {
    const s = new PiiSession();
    s.redactRequest("chat", { messages: [{ role: "user", content: `${EMAIL} ${EMAIL} ${PHONE}` }] });
    s.processResponse(
      "chat",
      { choices: [{ message: { content: "[EMAIL_1] and leaked@example.net from 10.0.0.7" } }] },
      { restore: true },
    );
    const report = s.report();
    expect(report).toEqual({
      request: { email: 2, phone: 1 },
      response: { email: 1, ip: 1 },
      restored: 1,
      categories: ["email", "phone", "ip"],
    });
    const text = JSON.stringify(report);
    for (const v of [EMAIL, PHONE, "leaked@example.net", "10.0.0.7"]) expect(text).not.toContain(v);
  });

  it("reads its configuration: categories narrow, restore_output sets the default", () => {
    const s = new PiiSession({ categories: ["phone"], restore_output: false });
    expect(s.redactText(`${EMAIL} ${PHONE}`)).toBe(`${EMAIL} [PHONE_1]`);
    expect(s.processText("[PHONE_1]")).toBe("[PHONE_1]");
    expect(s.processText("[PHONE_1]", { restore: true })).toBe(PHONE);
  });
});

describe("pii pre_call: chat completions", () => {
  const body = {
    model: "gpt-4o-mini",
    messages: [
      { role: "system", content: `Support agent. Escalate to ${PHONE}.` },
      {
        role: "user",
        name: "john_doe",
        content: [
          { type: "text", text: `I am ${EMAIL}, card ${CARD}.` },
          { type: "image_url", image_url: { url: "https://img.example.com/10.0.0.7.png", detail: "low" } },
        ],
      },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          {
            id: "call_123-45-6789",
            type: "function",
            function: { name: "lookup_customer", arguments: `{"email":"${EMAIL}","ssn":"123-45-6789"}` },
          },
        ],
      },
      { role: "tool", tool_call_id: "call_123-45-6789", content: '{"ip":"10.0.0.7","status":"active"}' },
      { role: "user", content: "My key is sk-proj-Ab3dEfGhIjKlMnOpQrStUvWx12yz" },
    ],
    tools: [
      {
        type: "function",
        function: {
          name: "lookup_customer",
          description: "Looks up by e-mail",
          parameters: { type: "object", properties: { email: { type: "string" } } },
        },
      },
    ],
    user: "user-42",
  };

  it("replaces every value the model would read, and nothing else", () => {
    const s = new PiiSession();
    const b = clone(body);
    expect(s.redactRequest("chat", b)).toBe(true);
    // The ids and the image URL hold look-alikes on purpose; apart from them, nothing raw is left.
    const read: any = clone(b.messages);
    read[1].content.pop();
    delete read[2].tool_calls[0].id;
    delete read[3].tool_call_id;
    expect(leaks(read)).toEqual([]);
    expect(b.messages[0]?.content).toBe("Support agent. Escalate to [PHONE_1].");
    expect(b.messages[1]?.content).toEqual([
      { type: "text", text: "I am [EMAIL_1], card [CARD_1]." },
      body.messages[1]?.content?.[1],
    ]);
    expect(b.messages[2]?.tool_calls?.[0]).toEqual({
      id: "call_123-45-6789",
      type: "function",
      function: { name: "lookup_customer", arguments: '{"email":"[EMAIL_1]","ssn":"[SSN_1]"}' },
    });
    expect(b.messages[3]).toEqual({
      role: "tool",
      tool_call_id: "call_123-45-6789",
      content: '{"ip":"[IP_1]","status":"active"}',
    });
    expect(b.messages[4]?.content).toBe("My key is [SECRET_1]");
    // Identifiers, names, schemas and everything outside messages are as they were.
    expect(b.messages[1]?.name).toBe("john_doe");
    expect({ ...b, messages: undefined }).toEqual({ ...body, messages: undefined });
  });

  it("covers a predicted output, which the model reads too", () => {
    const s = new PiiSession();
    const b = { model: "m", messages: [], prediction: { type: "content", content: `Dear ${EMAIL},` } };
    expect(s.redactRequest("chat", b)).toBe(true);
    expect(b.prediction.content).toBe("Dear [EMAIL_1],");
  });

  it("says when nothing changed, and leaves the body alone", () => {
    const s = new PiiSession();
    const b = { model: "m", messages: [{ role: "user", content: "What is 2+2? Version 1.2.3.4 please." }] };
    const before = clone(b);
    expect(s.redactRequest("chat", b)).toBe(false);
    expect(b).toEqual(before);
  });
});

describe("pii pre_call: Anthropic messages", () => {
  it("covers system, text, tool_use input, tool_result and text documents; leaves images and thinking", () => {
    const s = new PiiSession();
    const image = {
      type: "image",
      source: { type: "base64", media_type: "image/png", data: "QUtJQUlPU0ZPRE5ON0VYQU1QTEU=" },
    };
    const thinking = { type: "thinking", thinking: `The user is ${EMAIL}`, signature: "sig" };
    const body = {
      model: "claude-sonnet-4-5",
      max_tokens: 100,
      system: [{ type: "text", text: `Call ${PHONE} if needed.`, cache_control: { type: "ephemeral" } }],
      messages: [
        { role: "user", content: `Hi, ${EMAIL} here.` },
        {
          role: "assistant",
          content: [
            thinking,
            { type: "text", text: "Looking you up." },
            {
              type: "tool_use",
              id: "toolu_01",
              name: "crm_lookup",
              input: { email: EMAIL, card: 4111111111111111, nested: [{ ip: "10.0.0.7" }], limit: 5 },
            },
          ],
        },
        {
          role: "user",
          content: [
            {
              type: "tool_result",
              tool_use_id: "toolu_01",
              content: [{ type: "text", text: "SSN on file: 123-45-6789" }, image],
            },
            { type: "tool_result", tool_use_id: "toolu_02", content: `card ${CARD}` },
            {
              type: "document",
              source: { type: "text", media_type: "text/plain", data: `Contact: ${EMAIL}` },
            },
          ],
        },
      ],
    };
    const b = clone(body);
    expect(s.redactRequest("messages", b)).toBe(true);
    expect(b.system).toEqual([
      { type: "text", text: "Call [PHONE_1] if needed.", cache_control: { type: "ephemeral" } },
    ]);
    expect(b.messages[0]?.content).toBe("Hi, [EMAIL_1] here.");
    const assistant = b.messages[1]?.content as any[];
    expect(assistant[0]).toEqual(thinking); // signed: must go back as it came
    expect(assistant[2]).toEqual({
      type: "tool_use",
      id: "toolu_01",
      name: "crm_lookup",
      input: { email: "[EMAIL_1]", card: "[CARD_1]", nested: [{ ip: "[IP_1]" }], limit: 5 },
    });
    const results = b.messages[2]?.content as any[];
    expect(results[0].content).toEqual([{ type: "text", text: "SSN on file: [SSN_1]" }, image]);
    expect(results[1].content).toBe("card [CARD_2]");
    expect(results[2].source.data).toBe("Contact: [EMAIL_1]");
    // Apart from the signed thinking block, nothing raw is left for the model to read.
    const read: any = clone(b);
    read.messages[1].content.shift();
    expect(leaks(read)).toEqual([]);
  });

  it("takes a plain string system prompt", () => {
    const s = new PiiSession();
    const b = { model: "m", max_tokens: 1, system: `Owner: ${EMAIL}`, messages: [] };
    expect(s.redactRequest("messages", b)).toBe(true);
    expect(b.system).toBe("Owner: [EMAIL_1]");
  });
});

describe("pii pre_call: Responses", () => {
  it("covers instructions, input items, function calls and their outputs", () => {
    const s = new PiiSession();
    const body = {
      model: "gpt-4.1",
      instructions: `Reply to ${EMAIL}.`,
      input: [
        { role: "user", content: `My phone is ${PHONE}` },
        {
          type: "message",
          role: "user",
          content: [
            { type: "input_text", text: `card ${CARD}` },
            {
              type: "input_image",
              image_url: "https://img.example.com/john@example.com.png",
              detail: "auto",
            },
          ],
        },
        { type: "reasoning", id: "rs_1", summary: [], encrypted_content: "opaque" },
        {
          type: "function_call",
          id: "fc_1",
          call_id: "call_1",
          name: "send",
          arguments: `{"to":"${EMAIL}"}`,
        },
        { type: "function_call_output", call_id: "call_1", output: "sent from 10.0.0.7" },
        {
          type: "message",
          role: "assistant",
          id: "msg_1",
          status: "completed",
          content: [{ type: "output_text", text: "Done, SSN 123-45-6789 noted.", annotations: [] }],
        },
      ],
    };
    const b = clone(body);
    expect(s.redactRequest("responses", b)).toBe(true);
    expect(b.instructions).toBe("Reply to [EMAIL_1].");
    expect(b.input[0]).toEqual({ role: "user", content: "My phone is [PHONE_1]" });
    expect((b.input[1] as any).content[0].text).toBe("card [CARD_1]");
    expect((b.input[1] as any).content[1]).toEqual(body.input[1] && (body.input[1] as any).content[1]);
    expect(b.input[2]).toEqual(body.input[2]);
    expect((b.input[3] as any).arguments).toBe('{"to":"[EMAIL_1]"}');
    expect((b.input[4] as any).output).toBe("sent from [IP_1]");
    expect((b.input[5] as any).content[0].text).toBe("Done, SSN [SSN_1] noted.");
    // Apart from the image URL, nothing raw is left for the model to read.
    const read: any = clone(b);
    read.input[1].content.pop();
    expect(leaks(read)).toEqual([]);
  });

  it("takes a plain string input", () => {
    const s = new PiiSession();
    const b = { model: "m", input: `write to ${EMAIL}` };
    expect(s.redactRequest("responses", b)).toBe(true);
    expect(b.input).toBe("write to [EMAIL_1]");
  });
});

/** A session whose request held EMAIL and PHONE: [EMAIL_1] and [PHONE_1]. */
function afterRequest(): PiiSession {
  const s = new PiiSession();
  s.redactRequest("chat", { messages: [{ role: "user", content: `${EMAIL}, ${PHONE}` }] });
  return s;
}

describe("pii post_call", () => {
  const answer = () => ({
    id: "chatcmpl-1",
    object: "chat.completion",
    model: "gpt-4o-mini",
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content: "Hello [EMAIL_1]! I'll call [PHONE_1]. Also reach mary@example.org. [EMAIL_7] [Note_1]",
          tool_calls: [
            {
              id: "call_1",
              type: "function",
              function: {
                name: "notify",
                arguments: '{"to":"[EMAIL_1]","cc":"mary@example.org","raw":[PHONE_1]}',
              },
            },
          ],
        },
        logprobs: { content: [{ token: "john", logprob: -0.1, top_logprobs: [] }] },
        finish_reason: "tool_calls",
      },
    ],
  });

  it("restores the caller's values, redacts the model's own, leaves unknown placeholders", () => {
    const s = afterRequest();
    const a = answer();
    expect(s.processResponse("chat", a, { restore: true })).toBe(true);
    const message = a.choices[0]?.message;
    expect(message?.content).toBe(
      `Hello ${EMAIL}! I'll call ${PHONE}. Also reach [EMAIL_2]. [EMAIL_7] [Note_1]`,
    );
    // JSON text: a restored value outside a string becomes a JSON string, so the arguments parse.
    const args = message?.tool_calls[0]?.function.arguments as string;
    expect(args).toBe(`{"to":"${EMAIL}","cc":"[EMAIL_2]","raw":"${PHONE}"}`);
    expect(JSON.parse(args)).toEqual({ to: EMAIL, cc: "[EMAIL_2]", raw: PHONE });
    expect(a.choices[0]?.logprobs).toBeNull();
  });

  it("leaves placeholders when restore is off", () => {
    const s = afterRequest();
    const a = answer();
    s.processResponse("chat", a, { restore: false });
    expect(a.choices[0]?.message.content).toBe(
      "Hello [EMAIL_1]! I'll call [PHONE_1]. Also reach [EMAIL_2]. [EMAIL_7] [Note_1]",
    );
    expect(a.choices[0]?.message.tool_calls[0]?.function.arguments).toBe(
      '{"to":"[EMAIL_1]","cc":"[EMAIL_2]","raw":[PHONE_1]}',
    );
  });

  it("keeps a value the model repeats from the request when restoring, redacts it otherwise", () => {
    expect(afterRequest().processText(`it is ${EMAIL}`, { restore: true })).toBe(`it is ${EMAIL}`);
    expect(afterRequest().processText(`it is ${EMAIL}`, { restore: false })).toBe("it is [EMAIL_1]");
  });

  it("says when nothing changed", () => {
    const s = afterRequest();
    const a = {
      choices: [{ index: 0, message: { role: "assistant", content: "Nothing personal." }, logprobs: null }],
    };
    expect(s.processResponse("chat", a, { restore: true })).toBe(false);
  });

  it("restores in Anthropic text and tool_use input", () => {
    const s = afterRequest();
    const a = {
      id: "msg_1",
      type: "message",
      role: "assistant",
      content: [
        { type: "thinking", thinking: "[EMAIL_1] is the user", signature: "sig" },
        { type: "text", text: "Writing to [EMAIL_1] from 192.168.0.9" },
        {
          type: "tool_use",
          id: "toolu_1",
          name: "mail",
          input: { to: "[EMAIL_1]", body: ["call [PHONE_1]"] },
        },
      ],
      stop_reason: "tool_use",
    };
    expect(s.processResponse("messages", a, { restore: true })).toBe(true);
    expect(a.content[0]).toEqual({ type: "thinking", thinking: "[EMAIL_1] is the user", signature: "sig" });
    expect(a.content[1]).toEqual({ type: "text", text: `Writing to ${EMAIL} from [IP_1]` });
    expect(a.content[2]?.input).toEqual({ to: EMAIL, body: [`call ${PHONE}`] });
  });

  it("restores in a Response's output and the instructions it repeats, counting only the output", () => {
    const s = afterRequest();
    const a = {
      id: "resp_1",
      object: "response",
      instructions: "Reply to [EMAIL_1].",
      output: [
        { type: "reasoning", id: "rs_1", summary: [] },
        {
          type: "message",
          id: "msg_1",
          role: "assistant",
          status: "completed",
          content: [
            {
              type: "output_text",
              text: "Sure [EMAIL_1], or 4111111111111111?",
              annotations: [],
              logprobs: [{ token: "x", logprob: 0, top_logprobs: [] }],
            },
          ],
        },
        {
          type: "function_call",
          id: "fc_1",
          call_id: "c1",
          name: "sms",
          arguments: '{"n":"[PHONE_1]"}',
          status: "completed",
        },
      ],
    };
    expect(s.processResponse("responses", a, { restore: true })).toBe(true);
    expect(a.instructions).toBe(`Reply to ${EMAIL}.`);
    const part = (a.output[1] as any).content[0];
    expect(part.text).toBe(`Sure ${EMAIL}, or [CARD_1]?`);
    expect(part.logprobs).toEqual([]);
    expect((a.output[2] as any).arguments).toBe(`{"n":"${PHONE}"}`);
    expect(s.report().restored).toBe(2);
    expect(s.report().response).toEqual({ card: 1 });
  });
});

describe("pii JSON text", () => {
  const actions = (value: string): Actions => ({ value: () => "[X_1]", placeholder: () => value });

  it("escapes a restored value inside a string and quotes it outside one", () => {
    const scanner = new Scanner(new Mapping().dispatch, actions('say "hi"\\\n'), true);
    scanner.run('{"a":"[EMAIL_1]","b":[EMAIL_1]}', 0, true);
    expect(scanner.out).toBe('{"a":"say \\"hi\\"\\\\\\n","b":"say \\"hi\\"\\\\\\n"}');
    expect(JSON.parse(scanner.out)).toEqual({ a: 'say "hi"\\\n', b: 'say "hi"\\\n' });
  });

  it("treats escape sequences as separators and never starts a value inside one", () => {
    const s = new PiiSession();
    expect(s.processText(String.raw`{"t":"line\njohn@example.com\u0041b@example.com"}`, { json: true })).toBe(
      String.raw`{"t":"line\n[EMAIL_1]\u0041[EMAIL_2]"}`,
    );
    // Plain text has no escapes: "njohn" is the local part there.
    expect(new PiiSession().processText(String.raw`line\njohn@example.com`)).toBe(String.raw`line\[EMAIL_1]`);
  });

  it("writes a value found outside a string (a bare card number) as a JSON string", () => {
    const s = new PiiSession();
    const out = s.processText('{"card": 4111111111111111, "n": 12}', { json: true, restore: false });
    expect(out).toBe('{"card": "[CARD_1]", "n": 12}');
    expect(JSON.parse(out)).toEqual({ card: "[CARD_1]", n: 12 });
  });
});
