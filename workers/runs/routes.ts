import { type Context, Hono } from "hono";
import { z } from "zod";
import { errors, RelayError } from "../../common/errors";
import type { Config } from "../config/env";
import type { Database } from "../db/database";
import { describeRun, findRun, listRunEvents, listRuns, type RunRow, workflowRuns } from "../db/queries/runs";
import { readJson, readQuery } from "../http/body";
import type { AppEnv } from "../http/types";
import { drainOutbox, record } from "../outbox/outbox";
import { runBody } from "./body";
import { broker } from "./broker";
import { followRun } from "./replay";
import { startRun } from "./start";

const uuid = z.uuid();
const resultBody = z
  .object({ output: z.unknown() })
  .strict()
  .refine((b) => "output" in b, { message: "output is required (null is allowed)", path: ["output"] });
const listQuery = z.object({
  status: z.enum(["running", "completed", "failed", "canceled"]).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  workflow: uuid.optional(),
  roots: z.enum(["true", "false"]).optional(),
  before: z.iso.datetime({ offset: true }).optional(),
});

/** What reads see is what was recorded: the outbox is moved into Postgres first (best effort). */
async function fresh(config: Config, db: Database): Promise<void> {
  await drainOutbox(config, { maxBatches: 5, forRead: true, db }).catch((err) =>
    console.warn(JSON.stringify({ level: "warn", msg: "outbox drain failed", error: String(err) })),
  );
}

const notFound = (id: string) => errors.notFound("run_not_found", `No run ${id} in this tenant`);

async function runOf(c: Context<AppEnv>, id: string): Promise<RunRow> {
  if (!uuid.safeParse(id).success) throw notFound(id);
  await fresh(c.get("config"), c.get("db").db);
  const run = await findRun(c.get("db").db, c.get("caller").tenantId, id);
  if (!run) throw notFound(id);
  return run;
}

/** The broker forgets runs some time after they end: then Postgres says whether it ever existed. */
async function endedOrUnknown(
  config: Config,
  db: Database,
  tenantId: string,
  id: string,
): Promise<RelayError> {
  await fresh(config, db);
  const run = uuid.safeParse(id).success ? await findRun(db, tenantId, id) : null;
  if (!run) return notFound(id);
  return errors.conflict("run_not_waiting", `Run ${id} is ${run.status}; it waits for no tool results`);
}

export const runRoutes = new Hono<AppEnv>()
  .post("/", async (c) => startRun(c, await readJson(c, runBody)))
  .get("/", async (c) => {
    const q = readQuery(c, listQuery);
    await fresh(c.get("config"), c.get("db").db);
    const rows = await listRuns(c.get("db").db, c.get("caller").tenantId, {
      status: q.status,
      workflowId: q.workflow,
      roots: q.roots === "true",
      before: q.before ? new Date(q.before) : undefined,
      limit: q.limit,
    });
    return c.json({ runs: rows.map(describeRun) });
  })
  .get("/:id", async (c) => c.json({ run: describeRun(await runOf(c, c.req.param("id"))) }))
  .get("/:id/events", async (c) => {
    const run = await runOf(c, c.req.param("id"));
    if ((c.req.header("accept") ?? "").includes("text/event-stream")) {
      const after = Number(c.req.header("last-event-id") ?? c.req.query("after") ?? -1);
      if (!Number.isInteger(after) || after < -1) {
        throw errors.badRequest("invalid_query", "Last-Event-ID / after must be an event id", "after");
      }
      return followRun(c, run, after);
    }
    const rows = await listRunEvents(c.get("db").db, c.get("caller").tenantId, run.id);
    return c.json({
      run: describeRun(run),
      events: rows.map((e) => ({
        seq: e.seq,
        type: e.type,
        payload: e.payload,
        createdAt: e.createdAt.toISOString(),
      })),
    });
  })
  .post("/:id/tool-results/:toolUseId", async (c) => {
    const id = c.req.param("id");
    const toolUseId = c.req.param("toolUseId");
    const { output } = await readJson(c, resultBody);
    const config = c.get("config");
    const { tenantId } = c.get("caller");
    if (!uuid.safeParse(id).success) throw notFound(id);
    // Ids that start with "~" are relay's own (a run's wait on its end), never a model's.
    if (toolUseId.startsWith("~")) {
      throw errors.notFound("tool_call_not_found", `Run ${id} issued no tool call ${toolUseId}`);
    }
    try {
      await broker.submitResult(config, id, tenantId, toolUseId, output ?? null);
    } catch (err) {
      if (err instanceof RelayError && err.code === "run_not_found") {
        throw await endedOrUnknown(config, c.get("db").db, tenantId, id);
      }
      throw err;
    }
    return c.json({ ok: true });
  })
  .post("/:id/cancel", async (c) => {
    const id = c.req.param("id");
    const config = c.get("config");
    const { tenantId } = c.get("caller");
    const db = c.get("db").db;
    if (!uuid.safeParse(id).success) throw notFound(id);
    let status: string;
    try {
      status = await broker.endRun(config, id, tenantId, "canceled");
    } catch (err) {
      if (!(err instanceof RelayError && err.code === "run_not_found")) throw err;
      // The broker no longer knows it: a run that ended long ago, or one whose loop died with its
      // isolate (still "running" in Postgres): that one is marked canceled now.
      await fresh(config, db);
      const run = await findRun(db, tenantId, id);
      if (!run) throw notFound(id);
      if (run.status !== "running") throw errors.conflict("run_not_waiting", `Run ${id} is ${run.status}`);
      status = "canceled";
    }
    if (status !== "canceled") throw errors.conflict("run_not_waiting", `Run ${id} is ${status}`);
    // The run's own loop records the end with its usage; this records the cancel now, in case that
    // loop is gone.
    const run = await runOf(c, id).catch(() => null);
    if (run && run.status === "running") {
      const now = new Date();
      const canceled = { ...run, status: "canceled" as const, completedAt: now, updatedAt: now };
      c.executionCtx.waitUntil(
        record(config, {
          kind: "run",
          ...canceled,
          error: { code: "run_canceled", message: "The run was canceled" },
          createdAt: run.createdAt.toISOString(),
          completedAt: now.toISOString(),
          updatedAt: now.toISOString(),
        }),
      );
      return c.json({
        run: describeRun({ ...canceled, error: { code: "run_canceled", message: "The run was canceled" } }),
      });
    }
    return c.json({ run: run ? describeRun(run) : { id, status: "canceled" } });
  });

export const workflowRoutes = new Hono<AppEnv>().get("/:id", async (c) => {
  const id = c.req.param("id");
  if (!uuid.safeParse(id).success)
    throw errors.notFound("workflow_not_found", `No workflow ${id} in this tenant`);
  await fresh(c.get("config"), c.get("db").db);
  const rows = await workflowRuns(c.get("db").db, c.get("caller").tenantId, id);
  if (rows.length === 0) throw errors.notFound("workflow_not_found", `No workflow ${id} in this tenant`);
  const depth = new Map<string, number>();
  for (const r of rows) depth.set(r.id, r.parentRunId ? (depth.get(r.parentRunId) ?? 0) + 1 : 0);
  const priced = rows.filter((r) => r.costUsd !== null);
  return c.json({
    workflowId: id,
    runs: rows.map((r) => ({ ...describeRun(r), depth: depth.get(r.id) ?? 0 })),
    cost: {
      runCount: rows.length,
      inputTokens: rows.reduce((t, r) => t + r.inputTokens, 0),
      outputTokens: rows.reduce((t, r) => t + r.outputTokens, 0),
      costUsd: priced.length ? priced.reduce((t, r) => t + (r.costUsd ?? 0), 0) : null,
    },
  });
});
