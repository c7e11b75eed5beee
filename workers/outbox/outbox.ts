import type { Config } from "../config/env";
import { RequestDb } from "../db/client";
import type { Database } from "../db/database";
import { describeDbError } from "../db/errors";
import { redisFrom } from "../redis/client";
import { claimBatch, claimsInFlight, enqueue } from "./queue";
import type { OutboxItem } from "./records";
import { storeItems } from "./store";

// Usage, agent runs and run events: recorded after the response or beside a stream, never on a
// request's critical path, and never lost to a slow or failing database.

const DIRECT_RETRY_DELAYS_MS = [250, 1000, 3000, 8000];
const FLUSH_DELAY_MS = 50;
const MAX_BATCH = 200;

function warn(msg: string, err: unknown): void {
  console.warn(JSON.stringify({ level: "warn", msg, error: describeDbError(err) }));
}

async function storeDirect(config: Config, items: OutboxItem[]): Promise<number> {
  const handle = new RequestDb(config);
  try {
    return await storeItems(handle.db, items);
  } finally {
    await handle.close();
  }
}

// Items wait here for the next batch. Module state is per isolate; it holds plain data only.
const pending: OutboxItem[] = [];
let flushScheduled = false;

/**
 * Records an item. Items are batched per isolate: the call that starts a batch owns its flush (one
 * Redis push of everything gathered in the next 50 ms) and its promise, which the caller keeps alive
 * through waitUntil; the others only append. With Redis the batch is queued and a drain moves it
 * into Postgres; without Redis it goes to Postgres directly, retried with backoff while the owner's
 * background time lasts.
 */
export function record(config: Config, item: OutboxItem): Promise<void> {
  pending.push(item);
  if (flushScheduled && pending.length < MAX_BATCH) return Promise.resolve();
  flushScheduled = true;
  const delay = pending.length >= MAX_BATCH ? 0 : FLUSH_DELAY_MS;
  return new Promise<void>((resolve) => setTimeout(resolve, delay)).then(() => {
    flushScheduled = false;
    const batch = pending.splice(0);
    return batch.length ? storeBatch(config, batch) : undefined;
  });
}

/**
 * Records an item and stores it, with whatever else waits, before resolving: for what a client will
 * read right after it hears of it (a run's end, just before its stream closes).
 */
export function recordNow(config: Config, ...items: OutboxItem[]): Promise<void> {
  pending.push(...items);
  return storeBatch(config, pending.splice(0));
}

async function storeBatch(config: Config, batch: OutboxItem[]): Promise<void> {
  const redis = redisFrom(config);
  if (redis) {
    try {
      await enqueue(
        redis,
        config,
        batch.map((item) => JSON.stringify(item)),
      );
      return;
    } catch (err) {
      warn("outbox queue unavailable; writing to Postgres", err);
    }
  }
  for (let attempt = 0; ; attempt++) {
    try {
      await storeDirect(config, batch);
      return;
    } catch (err) {
      const delay = DIRECT_RETRY_DELAYS_MS[attempt];
      if (delay === undefined) {
        // Last resort: the items in the log, to be replayed by an operator.
        for (const item of batch)
          console.error(JSON.stringify({ level: "error", msg: "outbox item not stored", item }));
        return;
      }
      warn("outbox write failed; retrying", err);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

const READ_WAIT_MS = 5000;

/**
 * Moves queued items into Postgres, batch by batch; a batch that cannot be written goes back to the
 * head of the queue and the error is thrown. Returns how many items were stored.
 * `forRead`: the caller is about to read what was recorded (usage, runs), so it also waits — a few
 * seconds at most — for batches other drainers (the cron, another request) are writing right now.
 */
export async function drainOutbox(
  config: Config,
  {
    maxBatches = 20,
    batchSize = 500,
    forRead = false,
    db,
  }: { maxBatches?: number; batchSize?: number; forRead?: boolean; db?: Database } = {},
): Promise<number> {
  const redis = redisFrom(config);
  if (!redis) return 0;
  // A request that drains before it reads passes its own connection: a second one would wait
  // forever on a database that serves one session at a time (the embedded PGlite of npm run dev).
  const store = db
    ? (items: OutboxItem[]) => storeItems(db, items)
    : (items: OutboxItem[]) => storeDirect(config, items);
  const moved = await drainBatches(redis, config, store, maxBatches, batchSize);
  if (forRead) {
    const until = Date.now() + READ_WAIT_MS;
    while ((await claimsInFlight(redis, config)) > 0 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return moved;
}

async function drainBatches(
  redis: NonNullable<ReturnType<typeof redisFrom>>,
  config: Config,
  store: (items: OutboxItem[]) => Promise<number>,
  maxBatches: number,
  batchSize: number,
): Promise<number> {
  let moved = 0;
  for (let i = 0; i < maxBatches; i++) {
    const claim = await claimBatch(redis, config, batchSize);
    if (claim.items.length === 0) break;
    const items: OutboxItem[] = [];
    for (const text of claim.items) {
      try {
        // Items queued before runs shared the queue are usage records without a kind.
        const item = JSON.parse(text) as OutboxItem;
        items.push(item.kind ? item : ({ ...(item as object), kind: "usage" } as OutboxItem));
      } catch {
        warn("dropping an unreadable outbox item", text.slice(0, 200));
      }
    }
    try {
      if (items.length) moved += await store(items);
    } catch (err) {
      await claim.release();
      throw err;
    }
    await claim.done();
    if (claim.items.length < batchSize) break;
  }
  return moved;
}
