import { and, asc, desc, eq, isNull, lt, type SQL } from "drizzle-orm";
import type { Database } from "../database";
import { runEvents, runs } from "../schema";

export type RunRow = typeof runs.$inferSelect;
export type RunEventRow = typeof runEvents.$inferSelect;

export interface RunDescriptor {
  id: string;
  status: RunRow["status"];
  model: string;
  system: string | null;
  input: unknown;
  tools: unknown[];
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

export function describeRun(row: RunRow): RunDescriptor {
  return {
    id: row.id,
    status: row.status,
    model: row.model,
    system: row.system,
    input: row.input,
    tools: row.tools,
    metadata: row.metadata,
    output: row.output,
    error: row.error ?? null,
    iterations: row.iterations,
    usage: { input_tokens: row.inputTokens, output_tokens: row.outputTokens },
    costUsd: row.costUsd,
    parentRunId: row.parentRunId,
    workflowId: row.workflowId,
    keyId: row.keyId,
    createdAt: row.createdAt.toISOString(),
    completedAt: row.completedAt?.toISOString() ?? null,
    durationMs: row.completedAt ? row.completedAt.getTime() - row.createdAt.getTime() : null,
  };
}

export async function findRun(db: Database, tenantId: string, id: string): Promise<RunRow | null> {
  const [row] = await db
    .select()
    .from(runs)
    .where(and(eq(runs.tenantId, tenantId), eq(runs.id, id)))
    .limit(1);
  return row ?? null;
}

export async function listRuns(
  db: Database,
  tenantId: string,
  opts: { status?: RunRow["status"]; workflowId?: string; roots?: boolean; before?: Date; limit: number },
): Promise<RunRow[]> {
  const where: SQL[] = [eq(runs.tenantId, tenantId)];
  if (opts.status) where.push(eq(runs.status, opts.status));
  if (opts.workflowId) where.push(eq(runs.workflowId, opts.workflowId));
  if (opts.roots) where.push(isNull(runs.parentRunId));
  if (opts.before) where.push(lt(runs.createdAt, opts.before));
  return db
    .select()
    .from(runs)
    .where(and(...where))
    .orderBy(desc(runs.createdAt), desc(runs.id))
    .limit(opts.limit);
}

export async function listRunEvents(db: Database, tenantId: string, runId: string): Promise<RunEventRow[]> {
  return db
    .select()
    .from(runEvents)
    .where(and(eq(runEvents.tenantId, tenantId), eq(runEvents.runId, runId)))
    .orderBy(asc(runEvents.seq));
}

export async function workflowRuns(db: Database, tenantId: string, workflowId: string): Promise<RunRow[]> {
  return db
    .select()
    .from(runs)
    .where(and(eq(runs.tenantId, tenantId), eq(runs.workflowId, workflowId)))
    .orderBy(asc(runs.createdAt));
}
