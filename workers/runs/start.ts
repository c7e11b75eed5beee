import type { Context } from "hono";
import { errors } from "../../common/errors";
import { RequestDb } from "../db/client";
import { findRun } from "../db/queries/runs";
import { type GatewayContext, gatewayContext, routeContext } from "../gateway/context";
import { checkPlan } from "../guardrails/gateway";
import type { AppEnv } from "../http/types";
import { drainOutbox, recordNow } from "../outbox/outbox";
import type { RunRecord } from "../outbox/records";
import { resolveTarget } from "../routing/resolve";
import { checkTools, type RunBody } from "./body";
import { broker, RUN_END_CALL } from "./broker";
import { RunLog } from "./events";
import { type RunOutcome, type RunSpec, runLoop } from "./loop";

/** How long a run's start waits for its row to be queued (Redis is one round trip; Postgres may be slow). */
const RECORD_WAIT_MS = 250;

const DEFAULT_ITERATIONS = 8;
const WATCH_HOURS = 24;

/**
 * POST /v1/runs: everything that can be refused is refused before the stream starts, as a JSON
 * error (model, tools, parent run, broker); then the run answers as an SSE stream of its events.
 * A client that goes away cancels the run and aborts the model call in flight; so does a cancel
 * from anywhere (the broker wakes this run's own wait on its end).
 */
export async function startRun(c: Context<AppEnv>, body: RunBody): Promise<Response> {
  const config = c.get("config");
  const caller = c.get("caller");
  const model = body.model || config.DEFAULT_MODEL;
  if (!model) throw errors.badRequest("model_required", "model is required", "model");
  const tools = body.tools ?? [];
  checkTools(tools);
  const ctx = gatewayContext(c);
  // Unroutable models and missing credentials are plain errors, before anything starts.
  await resolveTarget(model, routeContext(ctx));
  // So is a guardrail plan that cannot run (every model call of a run streams).
  await checkPlan(ctx, body.guardrails ?? [], true);

  let workflowId = body.workflowId;
  if (body.parentRunId) {
    await drainOutbox(config, { maxBatches: 5, forRead: true }).catch(() => {});
    const parent = await findRun(c.get("db").db, caller.tenantId, body.parentRunId);
    if (!parent) {
      throw errors.badRequest(
        "parent_run_not_found",
        `No run ${body.parentRunId} in this tenant`,
        "parentRunId",
      );
    }
    workflowId = parent.workflowId;
  }
  const id = crypto.randomUUID();
  workflowId ??= id;
  await broker.registerRun(config, id, caller.tenantId);

  const spec: RunSpec = {
    id,
    tenantId: caller.tenantId,
    model,
    system: body.system,
    input: body.input,
    tools,
    maxIterations: Math.min(body.maxIterations ?? DEFAULT_ITERATIONS, config.RELAY_RUN_MAX_ITERATIONS),
    temperature: body.temperature,
    maxTokens: body.maxTokens,
    guardrails: body.guardrails ?? [],
  };
  const createdAt = new Date().toISOString();
  const row = (outcome: RunOutcome | null): RunRecord => ({
    id,
    tenantId: caller.tenantId,
    keyId: caller.keyId,
    status: outcome?.status ?? "running",
    model,
    system: body.system ?? null,
    input: body.input,
    tools,
    metadata: body.metadata ?? {},
    output: outcome?.output ?? null,
    error: outcome?.error ?? null,
    iterations: outcome?.iterations ?? 0,
    inputTokens: outcome?.inputTokens ?? 0,
    outputTokens: outcome?.outputTokens ?? 0,
    costUsd: outcome?.costUsd ?? null,
    parentRunId: body.parentRunId ?? null,
    workflowId: workflowId as string,
    createdAt,
    completedAt: outcome ? new Date().toISOString() : null,
    updatedAt: new Date().toISOString(),
  });
  // Queued now, not in the next batch: a client may read the run (GET /v1/runs/:id, its events,
  // the console) as soon as it has the id. The response waits for the queue a moment at most.
  const stored = recordNow(config, { kind: "run", ...row(null) });
  ctx.waitUntil(stored);
  await Promise.race([stored, new Promise((r) => setTimeout(r, RECORD_WAIT_MS))]);

  // The run outlives this request's database handle (closed once the response starts).
  const db = new RequestDb(config);
  const abort = new AbortController();
  const runCtx: GatewayContext = { ...ctx, db, signal: abort.signal };
  let sink: ReadableStreamDefaultController<Uint8Array> | null = null;
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      sink = controller;
    },
    cancel() {
      // The client went away: the run is canceled, the model call in flight aborted.
      sink = null;
      abort.abort();
    },
  });
  const log = new RunLog(
    config,
    id,
    caller.tenantId,
    (bytes) => sink?.enqueue(bytes),
    (task) => ctx.waitUntil(task),
  );

  // A cancel from anywhere ends the run at the broker, which wakes this wait.
  const watch = new AbortController();
  broker
    .waitResult(config, id, caller.tenantId, RUN_END_CALL, Date.now() + WATCH_HOURS * 3600_000, watch.signal)
    .then(
      () => {},
      (err: unknown) => {
        if ((err as { code?: string }).code === "run_not_waiting" && !watch.signal.aborted) abort.abort();
      },
    );

  const finished = runLoop(runCtx, spec, log, abort.signal).then(async (outcome) => {
    watch.abort();
    await broker.endRun(config, id, caller.tenantId, outcome.status).catch(() => {});
    await log.end(outcome.final, { kind: "run", ...row(outcome) });
    try {
      sink?.close();
    } catch {}
    await db.close();
  });
  ctx.waitUntil(finished);

  return new Response(stream, {
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      "x-run-id": id,
      "x-workflow-id": workflowId,
      "access-control-expose-headers": "x-run-id, x-workflow-id",
    },
  });
}
