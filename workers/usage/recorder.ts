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
      if (records.length) await insert(config, records);
    } catch (err) {
      await redis.rpush(USAGE_QUEUE, ...batch);
      throw err;
    }
    moved += records.length;
    if (batch.length < batchSize) break;
  }
  return moved;
}
