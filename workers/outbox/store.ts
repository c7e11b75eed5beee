import { sql } from "drizzle-orm";
import type { Database } from "../db/database";
import { describeDbError, sqlState } from "../db/errors";
import { guardrailExecutions, runEvents, runs, usageEvents } from "../db/schema";
import { storable } from "../db/storable";
import type { GuardrailExecutionRecord, OutboxItem, RunEventRecord, RunRecord, UsageRecord } from "./records";

// Writes outbox items into Postgres. Every write is idempotent, so an item written twice (a batch
// retried, a dead drainer's batch reclaimed) counts once: usage and executions by their id, a run by its id with the
// newest version winning, a run event by (run, seq) with the longest version winning.

/** Postgres integrity errors (class 23): the row itself is at fault, not the connection. */
function isIntegrityError(err: unknown): boolean {
  return sqlState(err)?.startsWith("23") ?? false;
}

const date = (iso: string) => new Date(iso);

async function insertUsage(db: Database, records: UsageRecord[]): Promise<void> {
  await db
    .insert(usageEvents)
    .values(records.map((r) => ({ ...r, createdAt: date(r.createdAt) })))
    .onConflictDoNothing();
}

async function insertExecutions(db: Database, records: GuardrailExecutionRecord[]): Promise<void> {
  await db
    .insert(guardrailExecutions)
    .values(records.map((r) => ({ ...r, createdAt: date(r.createdAt) })))
    .onConflictDoNothing();
}

async function upsertRuns(db: Database, records: RunRecord[]): Promise<void> {
  await db
    .insert(runs)
    .values(
      records.map((r) => ({
        ...r,
        createdAt: date(r.createdAt),
        completedAt: r.completedAt ? date(r.completedAt) : null,
        updatedAt: date(r.updatedAt),
      })),
    )
    .onConflictDoUpdate({
      target: runs.id,
      set: {
        status: sql`excluded.status`,
        output: sql`excluded.output`,
        error: sql`excluded.error`,
        iterations: sql`excluded.iterations`,
        inputTokens: sql`excluded.input_tokens`,
        outputTokens: sql`excluded.output_tokens`,
        costUsd: sql`excluded.cost_usd`,
        completedAt: sql`excluded.completed_at`,
        updatedAt: sql`excluded.updated_at`,
      },
      setWhere: sql`excluded.updated_at >= ${runs.updatedAt}`,
    });
}

async function upsertRunEvents(db: Database, records: RunEventRecord[]): Promise<void> {
  await db
    .insert(runEvents)
    .values(records.map((r) => ({ ...r, payload: sql`${r.payload}::json`, createdAt: date(r.createdAt) })))
    .onConflictDoUpdate({
      target: [runEvents.runId, runEvents.seq],
      set: { payload: sql`excluded.payload` },
      setWhere: sql`length(excluded.payload::text) > length(${runEvents.payload}::text)`,
    });
}

/** The last version of each run and of each run event in a batch (one statement cannot touch a row twice). */
function latest<T>(items: T[], key: (t: T) => string, newer: (a: T, b: T) => boolean): T[] {
  const byKey = new Map<string, T>();
  for (const item of items) {
    const k = key(item);
    const seen = byKey.get(k);
    if (!seen || newer(item, seen)) byKey.set(k, item);
  }
  return [...byKey.values()];
}

type Writer<T> = (db: Database, records: T[]) => Promise<void>;

/**
 * Writes a group; if one row breaks an integrity rule (its tenant was deleted since), the rows go one
 * by one and only the broken ones are dropped, so one bad item cannot block the queue.
 */
async function write<T>(
  db: Database,
  records: T[],
  writer: Writer<T>,
  describe: (r: T) => string,
): Promise<number> {
  if (records.length === 0) return 0;
  try {
    await writer(db, records);
    return records.length;
  } catch (err) {
    if (!isIntegrityError(err)) throw err;
  }
  let stored = 0;
  for (const record of records) {
    try {
      await writer(db, [record]);
      stored++;
    } catch (err) {
      if (!isIntegrityError(err)) throw err;
      console.warn(
        JSON.stringify({
          level: "warn",
          msg: "dropping an outbox item that breaks an integrity rule",
          item: describe(record),
          error: describeDbError(err),
        }),
      );
    }
  }
  return stored;
}

/** Stores a batch; runs go first, so a run's row is there by the time its events are. Returns how many were stored. */
export async function storeItems(db: Database, items: OutboxItem[]): Promise<number> {
  const usage: UsageRecord[] = [];
  const runRows: RunRecord[] = [];
  const events: RunEventRecord[] = [];
  const executions: GuardrailExecutionRecord[] = [];
  for (const item of items) {
    // What an upstream, a tool or a client wrote may hold NULs, which Postgres refuses: a statement
    // failing on them would be retried forever and hold up every batch behind it.
    const { kind, ...record } = storable(item);
    if (kind === "run") runRows.push(record as RunRecord);
    // A run event's payload is JSON text in a json column, which keeps \u0000 escapes as they came.
    else if (kind === "run_event") events.push(record as RunEventRecord);
    else if (kind === "guardrail_execution") executions.push(record as GuardrailExecutionRecord);
    else usage.push(record as UsageRecord);
  }
  let stored = 0;
  stored += await write(
    db,
    latest(
      runRows,
      (r) => r.id,
      (a, b) => a.updatedAt >= b.updatedAt,
    ),
    upsertRuns,
    (r) => `run ${r.id}`,
  );
  stored += await write(
    db,
    latest(
      events,
      (e) => `${e.runId}:${e.seq}`,
      (a, b) => a.payload.length >= b.payload.length,
    ),
    upsertRunEvents,
    (e) => `run event ${e.runId}#${e.seq}`,
  );
  stored += await write(db, usage, insertUsage, (u) => `usage ${u.id}`);
  stored += await write(db, executions, insertExecutions, (e) => `guardrail execution ${e.id}`);
  return stored;
}
