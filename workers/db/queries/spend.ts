import { and, eq, gte, inArray, sql } from "drizzle-orm";
import type { Database } from "../database";
import { usageEvents } from "../schema";

export interface Spend {
  /** USD since the start of the UTC day. */
  day: number;
  /** USD since the start of the UTC month. */
  month: number;
}

/**
 * What each key spent this day and this month, from the usage events: the record budgets are
 * rebuilt from when Redis has lost their counters. Keys without events are absent.
 */
export async function spendOf(
  db: Database,
  tenantId: string,
  keyIds: string[],
  dayStart: Date,
  monthStart: Date,
): Promise<Map<string, Spend>> {
  if (keyIds.length === 0) return new Map();
  const rows = await db
    .select({
      keyId: usageEvents.keyId,
      day: sql<number>`coalesce(sum(${usageEvents.costUsd}) filter (where ${usageEvents.createdAt} >= ${dayStart.toISOString()}::timestamptz), 0)::float8`,
      month: sql<number>`coalesce(sum(${usageEvents.costUsd}), 0)::float8`,
    })
    .from(usageEvents)
    .where(
      and(
        eq(usageEvents.tenantId, tenantId),
        inArray(usageEvents.keyId, keyIds),
        // The month starts no later than the day.
        gte(usageEvents.createdAt, monthStart),
      ),
    )
    .groupBy(usageEvents.keyId);
  return new Map(
    rows
      .filter((r): r is typeof r & { keyId: string } => r.keyId !== null)
      .map((r) => [r.keyId, { day: Number(r.day), month: Number(r.month) }]),
  );
}
