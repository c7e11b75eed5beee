import { and, desc, eq, gte, lt, type SQL, sql } from "drizzle-orm";
import type { Sealed } from "../../credentials/crypto";
import type { GuardrailDef } from "../../guardrails/types";
import type { Database } from "../database";
import { guardrailExecutions, guardrails } from "../schema";

export type GuardrailRow = typeof guardrails.$inferSelect;

export function describeGuardrail(row: GuardrailRow): GuardrailDef {
  return {
    name: row.name,
    description: row.description,
    kind: row.kind,
    modes: row.modes,
    defaultOn: row.defaultOn,
    failurePolicy: row.failurePolicy,
    config: row.config,
    configSchema: row.configSchema ?? null,
    enabled: row.enabled,
    endpointUrl: row.endpointUrl,
    timeoutMs: row.timeoutMs,
    hasToken: row.tokenCiphertext !== null,
  };
}

export async function listGuardrailRows(db: Database): Promise<GuardrailRow[]> {
  return db.select().from(guardrails).orderBy(guardrails.name);
}

export async function findGuardrail(db: Database, name: string): Promise<GuardrailRow | null> {
  const [row] = await db.select().from(guardrails).where(eq(guardrails.name, name)).limit(1);
  return row ?? null;
}

export interface GuardrailWrite {
  description?: string;
  kind?: "builtin" | "http";
  modes?: GuardrailDef["modes"];
  defaultOn?: boolean;
  failurePolicy?: GuardrailDef["failurePolicy"];
  config?: Record<string, unknown>;
  configSchema?: Record<string, unknown> | null;
  enabled?: boolean;
  endpointUrl?: string | null;
  timeoutMs?: number | null;
  /** undefined: unchanged; null: removed. */
  token?: Sealed | null;
}

function columns(w: GuardrailWrite) {
  const { token, ...rest } = w;
  const out: Record<string, unknown> = { ...rest };
  if (token !== undefined) {
    out.tokenCiphertext = token?.ciphertext ?? null;
    out.tokenIv = token?.iv ?? null;
    out.tokenAuthTag = token?.authTag ?? null;
  }
  return out;
}

/** Null when the name is taken. */
export async function insertGuardrail(
  db: Database,
  name: string,
  w: GuardrailWrite & { kind: "builtin" | "http"; modes: GuardrailDef["modes"] },
): Promise<GuardrailRow | null> {
  const [row] = await db
    .insert(guardrails)
    .values({ name, ...columns(w) } as typeof guardrails.$inferInsert)
    .onConflictDoNothing()
    .returning();
  return row ?? null;
}

export async function updateGuardrail(
  db: Database,
  name: string,
  w: GuardrailWrite,
): Promise<GuardrailRow | null> {
  const [row] = await db
    .update(guardrails)
    .set({ ...columns(w), updatedAt: sql`now()` })
    .where(eq(guardrails.name, name))
    .returning();
  return row ?? null;
}

export async function deleteGuardrail(db: Database, name: string): Promise<boolean> {
  const rows = await db
    .delete(guardrails)
    .where(eq(guardrails.name, name))
    .returning({ name: guardrails.name });
  return rows.length > 0;
}

export interface ExecutionFilter {
  tenantId?: string;
  guardrail?: string;
  action?: string;
  from?: Date;
  to?: Date;
  before?: Date;
  limit?: number;
}

function where(f: ExecutionFilter): SQL | undefined {
  const parts: SQL[] = [];
  if (f.tenantId) parts.push(eq(guardrailExecutions.tenantId, f.tenantId));
  if (f.guardrail) parts.push(eq(guardrailExecutions.guardrail, f.guardrail));
  if (f.action) parts.push(eq(guardrailExecutions.action, f.action));
  if (f.from) parts.push(gte(guardrailExecutions.createdAt, f.from));
  if (f.to) parts.push(lt(guardrailExecutions.createdAt, f.to));
  if (f.before) parts.push(lt(guardrailExecutions.createdAt, f.before));
  return parts.length ? and(...parts) : undefined;
}

export async function listExecutions(db: Database, f: ExecutionFilter) {
  return db
    .select()
    .from(guardrailExecutions)
    .where(where(f))
    .orderBy(desc(guardrailExecutions.createdAt), desc(guardrailExecutions.id))
    .limit(f.limit ?? 100);
}

export async function summariseExecutions(db: Database, f: ExecutionFilter) {
  return db
    .select({
      guardrail: guardrailExecutions.guardrail,
      mode: guardrailExecutions.mode,
      action: guardrailExecutions.action,
      count: sql<number>`count(*)::int`,
      avgLatencyMs: sql<number>`coalesce(avg(${guardrailExecutions.latencyMs}), 0)::float8`,
    })
    .from(guardrailExecutions)
    .where(where(f))
    .groupBy(guardrailExecutions.guardrail, guardrailExecutions.mode, guardrailExecutions.action)
    .orderBy(guardrailExecutions.guardrail, guardrailExecutions.mode, guardrailExecutions.action);
}
