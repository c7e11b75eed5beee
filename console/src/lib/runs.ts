// Agent runs as the console shows them: the API's run descriptor (workers/db/queries/runs.ts) and
// its events (workers/runs/events.ts), folded into a timeline.

export type RunStatus = "running" | "completed" | "failed" | "canceled";
export const RUN_STATUSES: RunStatus[] = ["running", "completed", "failed", "canceled"];

export interface Run {
  id: string;
  status: RunStatus;
  model: string;
  system: string | null;
  input: string | { role: string; content: string }[];
  tools: { kind: "function" | "builtin"; name: string; description?: string }[];
  metadata: Record<string, string>;
  output: string | null;
  error: { code: string; message: string } | null;
  iterations: number;
  usage: { input_tokens: number; output_tokens: number };
  costUsd: number | null;
  parentRunId: string | null;
  workflowId: string;
  keyId: string | null;
  createdAt: string;
  completedAt: string | null;
  durationMs: number | null;
}

/** An event as a live client sees it (one SSE frame's data). */
export type RunEvent =
  | { type: "token"; text: string }
  | { type: "tool_call"; id: string; name: string; input: unknown }
  | { type: "tool_result"; id: string; output: unknown }
  | { type: "done"; output: string; usage: { input_tokens: number; output_tokens: number } }
  | { type: "error"; code: string; message: string };

/** An event as stored: consecutive tokens are one row whose payload is {text, parts}. */
export interface StoredEvent {
  seq: number;
  type: string;
  payload: unknown;
  createdAt: string;
}

/**
 * One entry of the timeline: the model's text (consecutive tokens), a tool call, its result, the
 * end. `at` is when it was stored; an entry that arrived live has none until the run is read again.
 */
export type TimelineItem = { seq: number; last: number; at?: string } & (
  | { kind: "text"; text: string }
  | { kind: "tool_call"; id: string; name: string; input: unknown }
  | { kind: "tool_result"; id: string; output: unknown }
  | { kind: "done"; output: string; usage: { input_tokens: number; output_tokens: number } }
  | { kind: "error"; code: string; message: string }
);

/** Adds one event to a timeline (a new array); tokens extend the text they follow. */
export function addEvent(items: TimelineItem[], seq: number, ev: RunEvent, at?: string): TimelineItem[] {
  const prev = items.at(-1);
  if (prev && seq <= prev.last) return items;
  if (ev.type === "token") {
    if (prev?.kind === "text")
      return [...items.slice(0, -1), { ...prev, text: prev.text + ev.text, last: seq }];
    return [...items, { kind: "text", seq, last: seq, text: ev.text, at }];
  }
  const { type, ...rest } = ev;
  return [...items, { kind: type, seq, last: seq, at, ...rest } as TimelineItem];
}

export function timelineOf(events: StoredEvent[]): TimelineItem[] {
  let items: TimelineItem[] = [];
  for (const e of events) {
    if (e.type === "token") {
      const run = e.payload as { text: string; parts: number[] };
      const last = e.seq + run.parts.length - 1;
      const prev = items.at(-1);
      items =
        prev?.kind === "text"
          ? [...items.slice(0, -1), { ...prev, text: prev.text + run.text, last }]
          : [...items, { kind: "text", seq: e.seq, last, text: run.text, at: e.createdAt }];
    } else {
      items = addEvent(items, e.seq, e.payload as RunEvent, e.createdAt);
    }
  }
  return items;
}

/** The run's input in a line: the prompt, or the last user message. */
export function inputSummary(input: Run["input"], max = 90): string {
  const text =
    typeof input === "string"
      ? input
      : ([...input].reverse().find((m) => m.role === "user")?.content ?? input.at(-1)?.content ?? "");
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

export const shortId = (id: string) => id.slice(0, 8);
