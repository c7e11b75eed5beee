import type { Config } from "../config/env";
import { RequestDb } from "../db/client";
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

export const USAGE_QUEUE = "relay:usage:pending";
const DIRECT_RETRY_DELAYS_MS = [250, 1000, 3000, 8000];

async function insert(config: Config, records: UsageRecord[]): Promise<void> {
  const handle = new RequestDb(config);
  try {
    await handle.db
      .insert(usageEvents)
      .values(records.map((r) => ({ ...r, createdAt: new Date(r.createdAt) })))
      .onConflictDoNothing();
  } finally {
    await handle.close();
  }
}

function warn(msg: string, err: unknown): void {
  console.warn(
    JSON.stringify({ level: "warn", msg, error: err instanceof Error ? err.message : String(err) }),
  );
}

/**
 * Records one usage event after the response, never on its critical path. With Redis the event is
 * queued (one REST call) and a drain moves batches into Postgres, so a slow or unavailable
 * Postgres delays the numbers but loses none. Without Redis it is written to Postgres directly,
 * retried with backoff while the request's background time lasts.
 */
export async function recordUsage(config: Config, record: UsageRecord): Promise<void> {
  const redis = redisFrom(config);
  if (redis) {
    try {
      await redis.rpush(USAGE_QUEUE, JSON.stringify(record));
      return;
    } catch (err) {
      warn("usage queue unavailable; writing to Postgres", err);
    }
  }
  for (let attempt = 0; ; attempt++) {
    try {
      await insert(config, [record]);
      return;
    } catch (err) {
      const delay = DIRECT_RETRY_DELAYS_MS[attempt];
      if (delay === undefined) {
        // Last resort: the event in the log, to be replayed by an operator.
        console.error(JSON.stringify({ level: "error", msg: "usage event not stored", usage: record }));
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
  try {
    await insert(config, records);
    return records.length;
  } catch (err) {
    if (!isIntegrityError(err)) throw err;
  }
  let stored = 0;
  for (const record of records) {
    try {
      await insert(config, [record]);
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
}

/**
 * Moves queued usage events into Postgres. A batch that cannot be written goes back on the queue.
 * Inserts ignore ids already stored, so an event written twice still counts once.
 */
export async function drainUsage(config: Config, maxBatches = 20, batchSize = 500): Promise<number> {
  const redis = redisFrom(config);
  if (!redis) return 0;
  let moved = 0;
  for (let i = 0; i < maxBatches; i++) {
    const batch = (await redis.lpop<string[]>(USAGE_QUEUE, batchSize)) ?? [];
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
      await redis.rpush(USAGE_QUEUE, ...batch);
      throw err;
    }
    if (batch.length < batchSize) break;
  }
  return moved;
}
