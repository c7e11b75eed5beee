// The pending-tool broker: a run's tool calls, the results its caller posts, and the waits of the
// agent loop for them. Two backends keep the same semantics: Redis (any number of replicas) and
// process memory (one replica).

export type RunStatus = "running" | "completed" | "failed" | "canceled";
export type EndStatus = Exclude<RunStatus, "running">;

export interface BrokerStats {
  mode: "redis" | "memory";
  note?: string;
  /** Waits in progress on this replica. */
  waiting: number;
}

export interface Broker {
  readonly mode: "redis" | "memory";
  /** Registers the run, or returns the status of the tenant's existing run of that id. */
  registerRun(runId: string, tenantId: string): Promise<RunStatus>;
  /** Registers tool calls the model issued; registering one again keeps its result. */
  addCalls(runId: string, tenantId: string, ids: string[]): Promise<void>;
  /** Stores a call's result (JSON text), once, and wakes its waiters. */
  submitResult(runId: string, tenantId: string, toolUseId: string, output: string): Promise<void>;
  /**
   * The call's result (JSON text) as soon as it exists, or null when `waitMs` passes or `signal`
   * aborts first. Reading never consumes the result: a retried wait gets it again.
   */
  waitResult(
    runId: string,
    tenantId: string,
    toolUseId: string,
    waitMs: number,
    signal: AbortSignal,
  ): Promise<string | null>;
  /** Ends the run (the first end's status stays) and wakes its waiters; returns the final status. */
  endRun(runId: string, tenantId: string, status: EndStatus): Promise<RunStatus>;
  stats(): BrokerStats;
  /** Makes the waits in progress return (null) now, so a stopping replica does not hold them. */
  drain(): void;
  close(): Promise<void>;
}

/** A run is forgotten this long after its last activity, so abandoned runs cannot leak memory. */
export const ACTIVE_TTL_MS = 24 * 3600_000;
/** An ended run keeps answering `run_not_waiting` (and its results) this long. */
export const ENDED_TTL_MS = 3600_000;
