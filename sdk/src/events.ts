// The events of a run, as relay streams them (`data: <json>` frames; the seed system's format).
import { isRecord } from "./errors";

export interface Usage {
  input_tokens: number;
  output_tokens: number;
}

export interface TokenEvent {
  type: "token";
  text: string;
}

/** The model asked for a tool. Function tools run in this process; builtins run in relay. */
export interface ToolCallEvent {
  type: "tool_call";
  /** The tool-use id; a result is posted under it. */
  id: string;
  name: string;
  input: unknown;
}

export interface ToolResultEvent {
  type: "tool_result";
  id: string;
  output: unknown;
}

export interface DoneEvent {
  type: "done";
  output: string;
  usage: Usage;
}

// Not `ErrorEvent`, which would shadow the DOM's global of that name.
export interface RunErrorEvent {
  type: "error";
  code: string;
  message: string;
}

export type RunEvent = TokenEvent | ToolCallEvent | ToolResultEvent | DoneEvent | RunErrorEvent;

/**
 * One frame's data as an event, or null for a type this SDK does not know (a newer server may add
 * some; ignoring them keeps old clients working). A known type with a wrong shape is a protocol
 * error, which the caller reports.
 */
export function parseEvent(data: string): RunEvent | null | "malformed" {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return "malformed";
  }
  if (!isRecord(value)) return "malformed";
  switch (value.type) {
    case "token":
      return typeof value.text === "string" ? (value as unknown as TokenEvent) : "malformed";
    case "tool_call":
      return typeof value.id === "string" && typeof value.name === "string"
        ? (value as unknown as ToolCallEvent)
        : "malformed";
    case "tool_result":
      return typeof value.id === "string" ? (value as unknown as ToolResultEvent) : "malformed";
    case "done":
      return typeof value.output === "string"
        ? ({ ...value, usage: readUsage(value.usage) } as unknown as DoneEvent)
        : "malformed";
    case "error":
      return {
        ...value,
        type: "error",
        code: typeof value.code === "string" ? value.code : "run_failed",
        message: typeof value.message === "string" ? value.message : "The run failed",
      } as RunErrorEvent;
    default:
      return null;
  }
}

// The seed omits usage when it is zero; callers always get numbers.
function readUsage(value: unknown): Usage {
  const usage = isRecord(value) ? value : {};
  return {
    ...usage,
    input_tokens: typeof usage.input_tokens === "number" ? usage.input_tokens : 0,
    output_tokens: typeof usage.output_tokens === "number" ? usage.output_tokens : 0,
  };
}
