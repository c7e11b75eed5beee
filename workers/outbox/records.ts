// What relay writes beside a request and must never lose: usage, agent runs and their events,
// guardrail executions. These
// records travel through the outbox (Redis when configured, else straight to Postgres with retries),
// so a slow or failing database delays them but loses none.

/** One model call: one row of usage_events. The id is minted once, so a retried write counts once. */
export interface UsageRecord {
  id: string;
  requestId: string;
  tenantId: string;
  keyId: string | null;
  runId: string | null;
  endpoint: string;
  provider: string | null;
  model: string | null;
  requestedModel: string | null;
  status: number;
  errorCode: string | null;
  stream: boolean;
  inputTokens: number;
  outputTokens: number;
  cachedTokens: number;
  costUsd: number | null;
  latencyMs: number;
  ttfbMs: number | null;
  attempts: number;
  createdAt: string;
}

export type RunStatus = "running" | "completed" | "failed" | "canceled";

/** A run's row, whole: written when the run starts and again when it ends (the newer one wins). */
export interface RunRecord {
  id: string;
  tenantId: string;
  keyId: string | null;
  status: RunStatus;
  model: string;
  system: string | null;
  input: unknown;
  tools: unknown[];
  metadata: Record<string, string>;
  output: string | null;
  error: { code: string; message: string } | null;
  iterations: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number | null;
  parentRunId: string | null;
  workflowId: string;
  createdAt: string;
  completedAt: string | null;
  updatedAt: string;
}

/** One stored run event; a coalesced token event is written again as it grows (the longest wins). */
export interface RunEventRecord {
  runId: string;
  seq: number;
  tenantId: string;
  type: string;
  /** The payload as JSON text, stored as it is (replays give back what was sent). */
  payload: string;
  createdAt: string;
}

/** One run of one guardrail: what it did, never what it saw. */
export interface GuardrailExecutionRecord {
  id: string;
  requestId: string;
  tenantId: string;
  keyId: string | null;
  runId: string | null;
  guardrail: string;
  mode: string;
  action: string;
  failurePolicy: string;
  latencyMs: number;
  reason: string | null;
  metadata: Record<string, unknown>;
  createdAt: string;
}

export type OutboxItem =
  | ({ kind: "usage" } & UsageRecord)
  | ({ kind: "run" } & RunRecord)
  | ({ kind: "run_event" } & RunEventRecord)
  | ({ kind: "guardrail_execution" } & GuardrailExecutionRecord);
