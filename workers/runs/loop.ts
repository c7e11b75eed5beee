import { RelayError } from "../../common/errors";
import { SseParser } from "../../common/sse";
import type { GatewayContext } from "../gateway/context";
import { proxy } from "../gateway/proxy";
import type { Json, OpenAIMessage, OpenAITool, OpenAIUsage } from "../translate/types";
import { fromOpenAIUsage } from "../translate/usage";
import { costOf } from "../usage/prices";
import type { RunTool } from "./body";
import { broker } from "./broker";
import { BUILTIN_TOOLS } from "./builtins";
import type { RunEvent, RunLog } from "./events";

// The agent loop: one model call per turn through the very gateway path /v1/chat/completions takes
// (routing, credentials, retries, fallbacks, translation, local models, usage with the run's id),
// streaming tokens as they arrive; a turn that asks for tools emits every tool_call at once and waits
// for all results concurrently (builtins run here; function tools run in the caller's process,
// their results arriving through the broker); then the next turn, up to maxIterations.

export interface RunSpec {
  id: string;
  tenantId: string;
  model: string;
  system?: string;
  input: string | { role: "user" | "assistant" | "system"; content: string }[];
  tools: RunTool[];
  maxIterations: number;
  temperature?: number;
  maxTokens?: number;
  /** Requested guardrails, run on every model call (the key's own apply regardless). */
  guardrails?: string[];
}

export interface RunOutcome {
  status: "completed" | "failed" | "canceled";
  /** The event that ends the run's stream (done or error): written by whoever stores the end. */
  final: Extract<RunEvent, { type: "done" | "error" }>;
  output: string | null;
  error: { code: string; message: string } | null;
  iterations: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number | null;
}

interface ToolCall {
  id: string;
  name: string;
  args: string;
}

interface Turn {
  text: string;
  calls: ToolCall[];
  inputTokens: number;
  outputTokens: number;
  costUsd: number | null;
}

const decoder = new TextDecoder();

function chatTools(tools: RunTool[]): OpenAITool[] {
  return tools.map((t) => {
    const builtin = t.kind === "builtin" ? BUILTIN_TOOLS[t.name] : undefined;
    return {
      type: "function",
      function: {
        name: t.name,
        description: builtin ? builtin.description : t.kind === "function" ? t.description : "",
        parameters: (builtin ? builtin.inputSchema : t.kind === "function" ? t.inputSchema : {}) as Json,
      },
    };
  });
}

/** One model call, its stream read as it comes: tokens go to the log at once. */
async function modelTurn(
  ctx: GatewayContext,
  spec: RunSpec,
  messages: OpenAIMessage[],
  tools: OpenAITool[],
  turn: number,
  log: RunLog,
): Promise<Turn> {
  const body: Json = {
    model: spec.model,
    // A copy: pre_call guardrails rewrite the body in place, and the run's history keeps the
    // caller's own values (each call redacts them afresh).
    messages: structuredClone(messages),
    stream: true,
    stream_options: { include_usage: true },
    ...(tools.length ? { tools } : {}),
    ...(spec.temperature !== undefined ? { temperature: spec.temperature } : {}),
    ...(spec.maxTokens !== undefined ? { max_tokens: spec.maxTokens } : {}),
  };
  const res = await proxy(
    { ...ctx, requestId: `${ctx.requestId}.${turn}`, runId: spec.id },
    {
      client: {
        endpoint: "chat",
        body,
        raw: JSON.stringify(body),
        stream: true,
        anthropicHeaders: {},
        sessionHeaders: {},
      },
      candidates: [spec.model],
      warnings: [],
      guardrails: spec.guardrails,
    },
  );
  const upstreamModel = res.headers.get("x-relay-model") ?? spec.model;
  const calls = new Map<number, ToolCall>();
  let text = "";
  let usage: OpenAIUsage | null = null;
  const parser = new SseParser();
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const handle = (data: string) => {
    if (data === "[DONE]") return;
    const chunk = JSON.parse(data) as Json;
    if (chunk.error) {
      const err = chunk.error as Json;
      throw new RelayError({
        status: 502,
        type: "api_error",
        code: "upstream_stream_error",
        message: String(err.message ?? "The model's stream failed"),
      });
    }
    if (chunk.usage) usage = chunk.usage as OpenAIUsage;
    const choice = (chunk.choices as Json[] | undefined)?.[0];
    const delta = choice?.delta as Json | undefined;
    if (!delta) return;
    if (typeof delta.content === "string" && delta.content) {
      text += delta.content;
      log.token(delta.content);
    }
    for (const c of (delta.tool_calls as Json[] | undefined) ?? []) {
      const index = Number(c.index ?? 0);
      const fn = (c.function as Json | undefined) ?? {};
      const call = calls.get(index) ?? { id: "", name: "", args: "" };
      if (typeof c.id === "string" && c.id) call.id = c.id;
      if (typeof fn.name === "string" && fn.name) call.name = fn.name;
      if (typeof fn.arguments === "string") call.args += fn.arguments;
      calls.set(index, call);
    }
  };
  for (;;) {
    const { done, value } = await reader.read();
    const events = done ? parser.flush() : parser.push(decoder.decode(value, { stream: true }));
    for (const ev of events) handle(ev.data);
    if (done) break;
  }
  const tokens = fromOpenAIUsage(usage ?? undefined);
  return {
    text,
    calls: [...calls.entries()].sort((a, b) => a[0] - b[0]).map(([, c]) => c),
    inputTokens: tokens.input,
    outputTokens: tokens.output,
    costUsd: usage ? costOf(ctx.config, upstreamModel, tokens) : null,
  };
}

function parseInput(args: string): unknown {
  try {
    return args.trim() ? JSON.parse(args) : {};
  } catch {
    // A model that wrote broken JSON: the caller's validation tells it so.
    return { _raw_arguments: args };
  }
}

/** Every call of a turn at once; results are waited for concurrently and reported as each arrives. */
async function runTools(
  ctx: GatewayContext,
  spec: RunSpec,
  calls: ToolCall[],
  log: RunLog,
  signal: AbortSignal,
): Promise<{ id: string; output: unknown }[]> {
  const byName = new Map(spec.tools.map((t) => [t.name, t]));
  const named = calls.map((c) => ({ id: c.id, name: c.name, input: parseInput(c.args) }));
  const remote = named.filter((c) => byName.get(c.name)?.kind === "function").map((c) => c.id);
  // Registered before anyone hears of them, so a fast client's result is never "unknown".
  if (remote.length) await broker.addCalls(ctx.config, spec.id, spec.tenantId, remote);
  for (const c of named) log.event({ type: "tool_call", id: c.id, name: c.name, input: c.input });
  const deadline = Date.now() + ctx.config.RELAY_TOOL_RESULT_TIMEOUT_MS;
  return Promise.all(
    named.map(async (c) => {
      const tool = byName.get(c.name);
      const output =
        tool?.kind === "builtin"
          ? (BUILTIN_TOOLS[c.name]?.run(c.input) ?? null)
          : tool?.kind === "function"
            ? await broker.waitResult(ctx.config, spec.id, spec.tenantId, c.id, deadline, signal)
            : { error: `There is no tool named '${c.name}'` };
      log.event({ type: "tool_result", id: c.id, output });
      return { id: c.id, output };
    }),
  );
}

/**
 * Runs the loop to its end and reports how it ended; its events are in the log but for the final
 * one (done or error), which the caller writes with the run's end. `signal` aborts it: the client
 * went away, or the run was canceled.
 */
export async function runLoop(
  ctx: GatewayContext,
  spec: RunSpec,
  log: RunLog,
  signal: AbortSignal,
): Promise<RunOutcome> {
  const messages: OpenAIMessage[] = [];
  if (spec.system) messages.push({ role: "system", content: spec.system });
  if (typeof spec.input === "string") messages.push({ role: "user", content: spec.input });
  else messages.push(...spec.input);
  const tools = chatTools(spec.tools);
  const outcome: RunOutcome = {
    status: "failed",
    final: { type: "error", code: "internal_error", message: "The run ended without an outcome" },
    output: null,
    error: null,
    iterations: 0,
    inputTokens: 0,
    outputTokens: 0,
    costUsd: null,
  };
  const callCtx: GatewayContext = { ...ctx, signal };
  try {
    for (let turn = 1; turn <= spec.maxIterations; turn++) {
      outcome.iterations = turn;
      const result = await modelTurn(callCtx, spec, messages, tools, turn, log);
      outcome.inputTokens += result.inputTokens;
      outcome.outputTokens += result.outputTokens;
      if (result.costUsd !== null) outcome.costUsd = (outcome.costUsd ?? 0) + result.costUsd;
      if (result.calls.length === 0) {
        outcome.status = "completed";
        outcome.output = result.text;
        outcome.final = {
          type: "done",
          output: result.text,
          usage: { input_tokens: outcome.inputTokens, output_tokens: outcome.outputTokens },
        };
        return outcome;
      }
      // A call that came without an id gets one, used both in the history and by the caller.
      const calls = result.calls.map((c) => ({
        ...c,
        id: c.id || `call_${crypto.randomUUID().replaceAll("-", "")}`,
      }));
      messages.push({
        role: "assistant",
        content: result.text || null,
        tool_calls: calls.map((c) => ({
          id: c.id,
          type: "function",
          function: { name: c.name, arguments: c.args || "{}" },
        })),
      });
      for (const r of await runTools(callCtx, spec, calls, log, signal)) {
        messages.push({
          role: "tool",
          tool_call_id: r.id,
          content: typeof r.output === "string" ? r.output : JSON.stringify(r.output),
        });
      }
    }
    outcome.error = {
      code: "max_iterations_exceeded",
      message: `The run made ${spec.maxIterations} model calls (maxIterations) without a final answer`,
    };
  } catch (err) {
    if (signal.aborted || (err instanceof RelayError && err.code === "run_not_waiting")) {
      outcome.status = "canceled";
      outcome.error = { code: "run_canceled", message: "The run was canceled" };
    } else if (err instanceof RelayError) {
      outcome.error = { code: err.code, message: err.message };
    } else {
      console.error(
        JSON.stringify({ level: "error", msg: "run failed", runId: spec.id, error: String(err) }),
      );
      outcome.error = {
        code: "internal_error",
        message: "The run failed; the request id identifies it in the logs",
      };
    }
  }
  outcome.final = { type: "error", ...(outcome.error as { code: string; message: string }) };
  return outcome;
}
