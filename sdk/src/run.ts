// One run: starts it, reads its stream, answers its tool calls, and hands the events to the caller.
import { errorFromResponse, RelayError, RunError } from "./errors";
import { EventQueue } from "./event-queue";
import { parseEvent, type RunEvent, type ToolCallEvent, type Usage } from "./events";
import { type RelayHttp, runPath } from "./http";
import { postToolResult, type RetryPolicy } from "./post-result";
import { readSse } from "./sse-reader";
import { answerToolCall } from "./tool-call";
import type { ToolSet } from "./tools";

export interface RunResult {
  runId: string;
  workflowId: string;
  /** The model's final answer. */
  output: string;
  usage: Usage;
}

export interface RunStarted {
  runId: string;
  workflowId: string;
}

export interface RunDeps {
  http: RelayHttp;
  tools: ToolSet;
  retry: RetryPolicy;
}

/**
 * A run in progress. Iterate it for its events, or await `result()`; either way the run proceeds
 * (and its tools are answered) from the moment it is created.
 */
export class AgentRun implements AsyncIterable<RunEvent> {
  private readonly controller = new AbortController();
  private readonly queue = new EventQueue<RunEvent>();
  private readonly outcome: Promise<RunResult>;
  private readonly start: Promise<RunStarted>;
  private resolveStart!: (started: RunStarted) => void;
  private iterated = false;
  private finished = false;
  private started: RunStarted | undefined;
  private lastId: string | undefined;

  constructor(
    private readonly deps: RunDeps,
    body: string,
    signal: AbortSignal | undefined,
  ) {
    let rejectStart!: (error: unknown) => void;
    this.start = new Promise<RunStarted>((resolve, reject) => {
      this.resolveStart = resolve;
      rejectStart = reject;
    });
    this.outcome = this.drive(body, signal);
    this.outcome.catch(rejectStart);
    // Nobody has to look at these; a failure the caller never asks about must not crash the process.
    this.outcome.catch(() => {});
    this.start.catch(() => {});
  }

  /** The run's id, once relay has accepted the run (undefined before). */
  get runId(): string | undefined {
    return this.started?.runId;
  }

  get workflowId(): string | undefined {
    return this.started?.workflowId;
  }

  /** The `id` of the last event read: a replay of the run's events resumes after it. */
  get lastEventId(): string | undefined {
    return this.lastId;
  }

  /** Resolves with the ids once relay has accepted the run; rejects if it never does. */
  ready(): Promise<RunStarted> {
    return this.start;
  }

  /** The final output and usage; rejects with a RelayError (RunError once the run has started). */
  result(): Promise<RunResult> {
    return this.outcome;
  }

  /**
   * Cancels the run: asks relay to cancel it, then closes the stream (closing alone cancels it too,
   * which is all that happens if relay has not yet said the run's id). The run ends with RunError
   * `run_canceled`.
   */
  async cancel(): Promise<void> {
    if (this.finished) return;
    const runId = this.runId;
    try {
      if (runId) await this.deps.http.json("POST", runPath(runId, "/cancel"), {});
    } finally {
      const message = "The run was canceled by the client";
      this.controller.abort(
        runId
          ? new RunError({ code: "run_canceled", message, runId })
          : new RelayError({ code: "run_canceled", message }),
      );
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<RunEvent> {
    if (this.iterated) throw new TypeError("A run's events can be iterated only once");
    this.iterated = true;
    return {
      next: () => this.queue.next(),
      // Leaving the loop early stops the run: nobody is reading it any more.
      return: async () => {
        if (!this.finished)
          this.controller.abort(new DOMException("The run was abandoned by its reader", "AbortError"));
        return { done: true, value: undefined };
      },
    };
  }

  private async drive(body: string, userSignal: AbortSignal | undefined): Promise<RunResult> {
    const signal = this.controller.signal;
    const forward = () => this.controller.abort(userSignal?.reason);
    if (userSignal?.aborted) forward();
    userSignal?.addEventListener("abort", forward, { once: true });
    let result: RunResult | undefined;
    try {
      result = await this.stream(body, signal);
      this.queue.close();
      return result;
    } catch (err) {
      // Whoever aborted said why: the caller's signal, cancel(), or a tool result that could not be posted.
      const error = signal.aborted ? signal.reason : err;
      this.queue.close({ error });
      throw error;
    } finally {
      this.finished = true;
      userSignal?.removeEventListener("abort", forward);
      // Handlers still running for a run that failed have nobody to answer to.
      if (!result && !signal.aborted) this.controller.abort(new DOMException("The run ended", "AbortError"));
    }
  }

  private async stream(body: string, signal: AbortSignal): Promise<RunResult> {
    const response = await this.deps.http.request("POST", "/v1/runs", {
      body,
      accept: "text/event-stream",
      signal,
    });
    if (!response.ok) throw await errorFromResponse(response);
    const runId = response.headers.get("x-run-id");
    if (!runId || !response.body) {
      await response.body?.cancel();
      throw new RelayError({
        code: "invalid_response",
        status: response.status,
        message: `Expected a run's event stream from ${this.deps.http.baseUrl}/v1/runs, got a response without ${runId ? "a body" : "an x-run-id header"}`,
      });
    }
    const started = { runId, workflowId: response.headers.get("x-workflow-id") ?? runId };
    this.started = started;
    this.resolveStart(started);

    try {
      for await (const frame of readSse(response.body, signal)) {
        if (frame.id !== undefined) this.lastId = frame.id;
        const event = parseEvent(frame.data);
        if (event === null) continue;
        if (event === "malformed") {
          throw new RunError({
            code: "invalid_event",
            message: `Unreadable event from relay: ${frame.data.slice(0, 200)}`,
            runId,
          });
        }
        if (event.type === "tool_call") this.answer(event, runId);
        this.queue.push(event);
        if (event.type === "done") return { ...started, output: event.output, usage: event.usage };
        if (event.type === "error") throw new RunError({ code: event.code, message: event.message, runId });
      }
    } catch (err) {
      if (err instanceof RelayError || signal.aborted) throw err;
      throw new RunError({
        code: "connection_error",
        message: `The run's stream broke: ${err instanceof Error ? err.message : String(err)}`,
        runId,
        cause: err,
      });
    }
    throw new RunError({ code: "stream_ended", message: "The run's stream ended before the run did", runId });
  }

  /** Runs the call's handler and posts its result, concurrently with the other calls of the turn. */
  private answer(call: ToolCallEvent, runId: string): void {
    const { tools, http, retry } = this.deps;
    // relay runs its builtins itself and streams their results.
    if (tools.builtins.has(call.name) && !tools.local.has(call.name)) return;
    const signal = this.controller.signal;
    void (async () => {
      const body = await answerToolCall(tools.local.get(call.name), call, {
        runId,
        toolUseId: call.id,
        signal,
      });
      await postToolResult(http, runId, call.id, body, signal, retry);
    })().catch((err: unknown) => {
      if (signal.aborted) return; // the run is already over, for a reason of its own
      // The run has ended and its stream says how; stopping it here would hide that.
      if (err instanceof RelayError && err.code === "run_not_waiting") return;
      // The run cannot go on without this result: stop it now rather than wait for relay's timeout.
      this.controller.abort(
        err instanceof RelayError
          ? err
          : new RunError({ code: "tool_result_failed", message: String(err), runId, cause: err }),
      );
    });
  }
}
