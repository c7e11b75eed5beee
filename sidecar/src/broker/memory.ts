import { brokerError } from "./errors";
import {
  ACTIVE_TTL_MS,
  type Broker,
  type BrokerStats,
  ENDED_TTL_MS,
  type EndStatus,
  type RunStatus,
} from "./types";

interface Call {
  output: string | null;
  waiters: Set<() => void>;
}

interface Run {
  tenantId: string;
  status: RunStatus;
  calls: Map<string, Call>;
  expiresAt: number;
}

const SWEEP_MS = 60_000;

/** The broker in this process's memory: the Redis broker's semantics for a single replica. */
export class MemoryBroker implements Broker {
  readonly mode = "memory" as const;
  private readonly runs = new Map<string, Run>();
  private draining = false;
  private waiting = 0;
  private readonly sweeper = setInterval(() => this.sweep(), SWEEP_MS).unref();

  private run(runId: string, tenantId: string): Run {
    const run = this.runs.get(runId);
    if (!run || run.tenantId !== tenantId || run.expiresAt <= Date.now()) throw brokerError("run_not_found");
    return run;
  }

  private touch(run: Run): void {
    if (run.status === "running") run.expiresAt = Date.now() + ACTIVE_TTL_MS;
  }

  async registerRun(runId: string, tenantId: string): Promise<RunStatus> {
    const existing = this.runs.get(runId);
    if (existing && existing.expiresAt > Date.now()) {
      if (existing.tenantId !== tenantId) throw brokerError("run_not_found");
      this.touch(existing);
      return existing.status;
    }
    this.runs.set(runId, {
      tenantId,
      status: "running",
      calls: new Map(),
      expiresAt: Date.now() + ACTIVE_TTL_MS,
    });
    return "running";
  }

  async addCalls(runId: string, tenantId: string, ids: string[]): Promise<void> {
    const run = this.run(runId, tenantId);
    if (run.status !== "running") throw brokerError("run_not_waiting");
    for (const id of ids) if (!run.calls.has(id)) run.calls.set(id, { output: null, waiters: new Set() });
    this.touch(run);
  }

  async submitResult(runId: string, tenantId: string, toolUseId: string, output: string): Promise<void> {
    const run = this.run(runId, tenantId);
    const call = run.calls.get(toolUseId);
    if (!call) throw brokerError("tool_call_not_found");
    if (call.output !== null) throw brokerError("tool_result_already_submitted");
    if (run.status !== "running") throw brokerError("run_not_waiting");
    call.output = output;
    this.touch(run);
    for (const wake of call.waiters) wake();
  }

  /** The result, or why there is none yet ("pending"); throws for a missing run or call. */
  private peek(runId: string, tenantId: string, toolUseId: string): string | "pending" {
    const run = this.run(runId, tenantId);
    const call = run.calls.get(toolUseId);
    if (!call) throw brokerError("tool_call_not_found");
    if (call.output !== null) return call.output;
    if (run.status !== "running") throw brokerError("run_not_waiting");
    return "pending";
  }

  async waitResult(
    runId: string,
    tenantId: string,
    toolUseId: string,
    waitMs: number,
    signal: AbortSignal,
  ): Promise<string | null> {
    const first = this.peek(runId, tenantId, toolUseId);
    if (first !== "pending") return first;
    if (waitMs <= 0 || signal.aborted || this.draining) return null;
    const call = this.runs.get(runId)?.calls.get(toolUseId) as Call;
    this.waiting++;
    try {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          call.waiters.delete(done);
          signal.removeEventListener("abort", done);
          resolve();
        };
        const timer = setTimeout(done, waitMs);
        call.waiters.add(done);
        signal.addEventListener("abort", done);
      });
    } finally {
      this.waiting--;
    }
    if (signal.aborted || this.draining) return null;
    const after = this.peek(runId, tenantId, toolUseId);
    return after === "pending" ? null : after;
  }

  async endRun(runId: string, tenantId: string, status: EndStatus): Promise<RunStatus> {
    const run = this.run(runId, tenantId);
    if (run.status === "running") run.status = status;
    run.expiresAt = Date.now() + ENDED_TTL_MS;
    for (const call of run.calls.values()) for (const wake of call.waiters) wake();
    return run.status;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, run] of this.runs) {
      if (run.expiresAt > now) continue;
      this.runs.delete(id);
      // Waiters of a forgotten run learn it is gone (404) rather than waiting out their time.
      for (const call of run.calls.values()) for (const wake of call.waiters) wake();
    }
  }

  stats(): BrokerStats {
    return {
      mode: "memory",
      note: "single replica only: set REDIS_URL to serve runs from several sidecar replicas",
      waiting: this.waiting,
    };
  }

  drain(): void {
    this.draining = true;
    for (const run of this.runs.values())
      for (const call of run.calls.values()) for (const wake of call.waiters) wake();
  }

  async close(): Promise<void> {
    this.drain();
    clearInterval(this.sweeper);
    this.runs.clear();
  }
}
