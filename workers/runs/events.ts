import type { Config } from "../config/env";
import { record, recordNow } from "../outbox/outbox";
import type { OutboxItem } from "../outbox/records";

// The events of a run, as the seed's SDKs know them, and how they are written: to the client as
// SSE frames (`id: <seq>` + `data: <json>`), and to Postgres through the outbox. Consecutive tokens
// are stored as one event that grows (seq = the first token's id, payload {text, parts} with each
// token's length), flushed every FLUSH_MS off the critical path: a long answer is a handful of rows,
// and a replay after any Last-Event-ID still gives back the very frames the client saw.

export type RunEvent =
  | { type: "token"; text: string }
  | { type: "tool_call"; id: string; name: string; input: unknown }
  | { type: "tool_result"; id: string; output: unknown }
  | { type: "done"; output: string; usage: { input_tokens: number; output_tokens: number } }
  | { type: "error"; code: string; message: string };

/** A stored token run. */
export interface TokenRun {
  text: string;
  /** Each token's length (UTF-16 units), in order. */
  parts: number[];
}

const FLUSH_MS = 500;
const encoder = new TextEncoder();

/** The event's JSON, members in a fixed order, so a replay writes the same bytes. */
export function eventJson(ev: RunEvent): string {
  switch (ev.type) {
    case "token":
      return `{"type":"token","text":${JSON.stringify(ev.text)}}`;
    case "tool_call":
      return `{"type":"tool_call","id":${JSON.stringify(ev.id)},"name":${JSON.stringify(ev.name)},"input":${JSON.stringify(ev.input ?? null)}}`;
    case "tool_result":
      return `{"type":"tool_result","id":${JSON.stringify(ev.id)},"output":${JSON.stringify(ev.output ?? null)}}`;
    case "done":
      return `{"type":"done","output":${JSON.stringify(ev.output)},"usage":${JSON.stringify(ev.usage)}}`;
    case "error":
      return `{"type":"error","code":${JSON.stringify(ev.code)},"message":${JSON.stringify(ev.message)}}`;
  }
}

export function frame(seq: number, json: string): string {
  return `id: ${seq}\ndata: ${json}\n\n`;
}

/** What a stored event stands for: one frame, or one frame per token of a token run. */
export function framesOf(type: string, seq: number, payload: unknown, after: number): string {
  if (type === "token") {
    const run = payload as TokenRun;
    let out = "";
    let at = 0;
    run.parts.forEach((length, i) => {
      const id = seq + i;
      const text = run.text.slice(at, at + length);
      at += length;
      if (id > after) out += frame(id, eventJson({ type: "token", text }));
    });
    return out;
  }
  return seq > after ? frame(seq, JSON.stringify(payload)) : "";
}

/** The id of the last frame a stored event stands for. */
export function lastSeqOf(type: string, seq: number, payload: unknown): number {
  return type === "token" ? seq + (payload as TokenRun).parts.length - 1 : seq;
}

/**
 * Numbers a run's events, writes each to the client at once and to the outbox behind it. The
 * client's sink may go away (a disconnect); storing goes on until the run ends.
 */
export class RunLog {
  private seq = 0;
  private tokens: { seq: number; run: TokenRun } | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private sinkOpen = true;

  constructor(
    private readonly config: Config,
    private readonly runId: string,
    private readonly tenantId: string,
    private readonly sink: (bytes: Uint8Array) => void,
    private readonly keepAlive: (task: Promise<unknown>) => void,
  ) {}

  private send(seq: number, json: string): void {
    if (!this.sinkOpen) return;
    try {
      this.sink(encoder.encode(frame(seq, json)));
    } catch {
      this.sinkOpen = false;
    }
  }

  private store(seq: number, type: string, payload: string): void {
    this.keepAlive(
      record(this.config, {
        kind: "run_event",
        runId: this.runId,
        seq,
        tenantId: this.tenantId,
        type,
        payload,
        createdAt: new Date().toISOString(),
      }),
    );
  }

  private flushTokens(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.tokens) this.store(this.tokens.seq, "token", JSON.stringify(this.tokens.run));
  }

  token(text: string): void {
    if (text === "") return;
    const seq = this.seq++;
    this.send(seq, eventJson({ type: "token", text }));
    if (this.tokens) {
      this.tokens.run.text += text;
      this.tokens.run.parts.push(text.length);
    } else {
      this.tokens = { seq, run: { text, parts: [text.length] } };
    }
    this.timer ??= setTimeout(() => this.flushTokens(), FLUSH_MS);
  }

  event(ev: Exclude<RunEvent, { type: "token" }>): void {
    this.flushTokens();
    this.tokens = null;
    const seq = this.seq++;
    const json = eventJson(ev);
    this.send(seq, json);
    this.store(seq, ev.type, json);
  }

  /**
   * The run's last event, stored with `also` (the run's ended row) before the client hears of it:
   * whoever reads the run right after `done` finds it ended.
   */
  async end(ev: Extract<RunEvent, { type: "done" | "error" }>, also: OutboxItem): Promise<void> {
    this.flushTokens();
    this.tokens = null;
    const seq = this.seq++;
    const json = eventJson(ev);
    const item: OutboxItem = {
      kind: "run_event",
      runId: this.runId,
      seq,
      tenantId: this.tenantId,
      type: ev.type,
      payload: json,
      createdAt: new Date().toISOString(),
    };
    await recordNow(this.config, item, also);
    this.send(seq, json);
  }
}
