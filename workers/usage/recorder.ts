import type { Config } from "../config/env";
import { RequestDb } from "../db/client";
import type { Database } from "../db/database";
import { usageEvents } from "../db/schema";
import { redisFrom } from "../redis/client";

export interface UsageRecord {
  id: string;
  requestId: string;
  tenantId: string;
  keyId: string | null;
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

/**
 * The queue of one database: events drain only into the database they were recorded for, even when
 * several deployments (staging, production, tests) share a Redis. Host, port and database name
 * identify it; the password does not, so rotating it keeps the queue.
 */
export function usageQueueKey(config: Config): string {
  let id = "default";
  if (config.DATABASE_URL) {
    const u = new URL(config.DATABASE_URL);
    id = `${u.hostname}:${u.port || 5432}${u.pathname}`;
  }
  // FNV-1a: a short, stable name; no secret goes into it.
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return `relay:usage:pending:${(h >>> 0).toString(16)}`;
}
const DIRECT_RETRY_DELAYS_MS = [250, 1000, 3000, 8000];

async function insert(db: Database, records: UsageRecord[]): Promise<void> {
  await db
    .insert(usageEvents)
    .values(records.map((r) => ({ ...r, createdAt: new Date(r.createdAt) })))
    .onConflictDoNothing();
}

function warn(msg: string, err: unknown): void {
  console.warn(
    JSON.stringify({ level: "warn", msg, error: err instanceof Error ? err.message : String(err) }),
  );
}

// Events wait here for the next batch. Module state is per isolate; it holds plain data only.
const pending: UsageRecord[] = [];
let flushScheduled = false;
const FLUSH_DELAY_MS = 50;
const MAX_BATCH = 200;

/**
 * Records one usage event after the response, never on its critical path. Events are batched per
 * isolate: the request that starts a batch owns its flush (one Redis push of every event gathered
 * in the next 50 ms) and keeps it alive through its own waitUntil; the others only append. With
 * Redis the batch is queued and a drain moves it into Postgres, so a slow or unavailable Postgres
 * delays the numbers but loses none. Without Redis the batch goes to Postgres directly, retried
 * with backoff while the owner's background time lasts.
 */
export function recordUsage(config: Config, record: UsageRecord): Promise<void> {
  pending.push(record);
  if (flushScheduled && pending.length < MAX_BATCH) return Promise.resolve();
  flushScheduled = true;
  const delay = pending.length >= MAX_BATCH ? 0 : FLUSH_DELAY_MS;
  return new Promise<void>((resolve) => setTimeout(resolve, delay)).then(() => {
    flushScheduled = false;
    const batch = pending.splice(0);
    return batch.length ? storeBatch(config, batch) : undefined;
  });
}

async function storeBatch(config: Config, batch: UsageRecord[]): Promise<void> {
  const redis = redisFrom(config);
  if (redis) {
    try {
      await redis.rpush(usageQueueKey(config), ...batch.map((r) => JSON.stringify(r)));
      return;
    } catch (err) {
      warn("usage queue unavailable; writing to Postgres", err);
    }
  }
  for (let attempt = 0; ; attempt++) {
    try {
      await insertBatch(config, batch);
      return;
    } catch (err) {
      const delay = DIRECT_RETRY_DELAYS_MS[attempt];
      if (delay === undefined) {
        // Last resort: the events in the log, to be replayed by an operator.
        for (const usage of batch)
          console.error(JSON.stringify({ level: "error", msg: "usage event not stored", usage }));
        return;
      }
      warn("usage write failed; retrying", err);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/** Postgres integrity errors (class 23): the row itself is at fault, not the connection. */
function sqlState(err: unknown): string | undefined {
  const code =
    (err as { cause?: { code?: unknown }; code?: unknown }).cause?.code ?? (err as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

function isIntegrityError(err: unknown): boolean {
  return sqlState(err)?.startsWith("23") ?? false;
}

/**
 * Inserts a batch; if one row breaks an integrity rule (its tenant was deleted since), the rows go
 * one by one and only the broken ones are dropped, so one bad event cannot block the queue.
 */
async function insertBatch(config: Config, records: UsageRecord[]): Promise<number> {
  const handle = new RequestDb(config);
  try {
    try {
      await insert(handle.db, records);
      return records.length;
    } catch (err) {
      if (!isIntegrityError(err)) throw err;
    }
    let stored = 0;
    for (const record of records) {
      try {
        await insert(handle.db, [record]);
        stored++;
      } catch (err) {
        if (!isIntegrityError(err)) throw err;
        warn(
          "dropping a usage event that breaks an integrity rule",
          `event ${record.id}, SQLSTATE ${sqlState(err)}`,
        );
      }
    }
    return stored;
  } finally {
    await handle.close();
  }
}

/**
 * Moves queued usage events into Postgres. A batch that cannot be written goes back on the queue.
 * Inserts ignore ids already stored, so an event written twice still counts once.
 */
export async function drainUsage(config: Config, maxBatches = 20, batchSize = 500): Promise<number> {
  const redis = redisFrom(config);
  if (!redis) return 0;
  const queue = usageQueueKey(config);
  let moved = 0;
  for (let i = 0; i < maxBatches; i++) {
    const batch = (await redis.lpop<string[]>(queue, batchSize)) ?? [];
    if (batch.length === 0) break;
    const records: UsageRecord[] = [];
    for (const item of batch) {
      try {
        records.push(JSON.parse(item) as UsageRecord);
      } catch {
        warn("dropping an unreadable usage queue entry", item.slice(0, 200));
      }
    }
    try {
      if (records.length) moved += await insertBatch(config, records);
    } catch (err) {
      await redis.rpush(queue, ...batch);
      throw err;
    }
    if (batch.length < batchSize) break;
  }
  return moved;
}
