// createAgent: an agent is a model, a system prompt and tools, bound to one relay.
import { readEnv } from "./env";
import { RelayError } from "./errors";
import { type FetchLike, RelayHttp, runPath } from "./http";
import type { ModelId } from "./models";
import { defaultRetry } from "./post-result";
import { AgentRun } from "./run";
import { compileTools, type ToolDefinition, type ToolSet } from "./tools";

export interface ChatMessage {
  role: "user" | "assistant" | "system";
  content: string;
}

export interface AgentOptions<Inputs extends Record<string, unknown> = Record<string, unknown>> {
  model: ModelId;
  /** relay's URL, without /v1; defaults to RELAY_URL. */
  baseUrl?: string;
  /** A relay API key; defaults to RELAY_API_KEY. */
  apiKey?: string;
  system?: string;
  /** Tools by name. The model calls function tools by these names; their handlers run here. */
  tools?: { [Name in keyof Inputs]: ToolDefinition<Inputs[Name]> };
  /** A fetch to use instead of the global one (a proxy agent, a test double). */
  fetch?: FetchLike;
}

export interface RunOptions {
  /** Aborting it stops the run: the stream is closed (relay cancels the run) and handlers see it. */
  signal?: AbortSignal;
  parentRunId?: string;
  workflowId?: string;
  /** The most model calls in the run (relay's default is 8; relay caps it). */
  maxIterations?: number;
  metadata?: Record<string, unknown>;
  temperature?: number;
  maxTokens?: number;
  /** Guardrails the key may opt into, run on every model call (its mandatory ones run anyway). */
  guardrails?: string[];
}

export type RunStatus = "running" | "completed" | "failed" | "canceled";

/** A run as relay stores it. */
export interface RunInfo {
  id: string;
  status: RunStatus;
  model: string;
  output: string | null;
  error: unknown;
  [field: string]: unknown;
}

export interface Agent {
  readonly model: ModelId;
  /** Starts a run now. Iterate the returned run for its events, or await its `result()`. */
  run(input: string | ChatMessage[], options?: RunOptions): AgentRun;
  /** Cancels a run by id (from any process with a key of the same tenant). */
  cancel(runId: string): Promise<RunInfo>;
  /** A run's stored state. */
  getRun(runId: string): Promise<RunInfo>;
}

export function createAgent<Inputs extends Record<string, unknown> = Record<string, unknown>>(
  options: AgentOptions<Inputs>,
): Agent {
  if (typeof options?.model !== "string" || options.model === "") {
    throw new RelayError({
      code: "model_required",
      message: 'createAgent needs a model, e.g. { model: "claude-sonnet-4-6" }',
    });
  }
  const baseUrl = options.baseUrl ?? readEnv("RELAY_URL");
  if (!baseUrl) {
    throw new RelayError({
      code: "base_url_missing",
      message: "No relay URL: pass createAgent({ baseUrl }) or set RELAY_URL",
    });
  }
  const apiKey = options.apiKey ?? readEnv("RELAY_API_KEY");
  if (!apiKey) {
    throw new RelayError({
      code: "api_key_missing",
      message: "No relay API key: pass createAgent({ apiKey }) or set RELAY_API_KEY",
    });
  }
  const http = new RelayHttp(baseUrl, apiKey, options.fetch);
  const tools: ToolSet = compileTools(options.tools as Record<string, ToolDefinition<never>> | undefined);
  const { model, system } = options;

  return {
    model,
    run(input, runOptions = {}) {
      const body = JSON.stringify({
        model,
        input,
        system,
        tools: tools.wire.length > 0 ? tools.wire : undefined,
        maxIterations: runOptions.maxIterations,
        parentRunId: runOptions.parentRunId,
        workflowId: runOptions.workflowId,
        metadata: runOptions.metadata,
        temperature: runOptions.temperature,
        maxTokens: runOptions.maxTokens,
        guardrails: runOptions.guardrails,
      });
      return new AgentRun({ http, tools, retry: defaultRetry }, body, runOptions.signal);
    },
    async cancel(runId) {
      return (await http.json<{ run: RunInfo }>("POST", runPath(runId, "/cancel"), {})).run;
    },
    async getRun(runId) {
      return (await http.json<{ run: RunInfo }>("GET", runPath(runId))).run;
    },
  };
}
