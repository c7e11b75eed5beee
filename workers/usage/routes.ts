import { and, eq, gte, lt, sql } from "drizzle-orm";
import { Hono } from "hono";
import { z } from "zod";
import { errors } from "../../common/errors";
import type { Config } from "../config/env";
import type { Database } from "../db/database";
import { describeDbError } from "../db/errors";
import { listApiKeys } from "../db/queries/api-keys";
import { livekitEventsOverlapping } from "../db/queries/livekit";
import { findTenantLimits } from "../db/queries/tenants";
import { usageEvents } from "../db/schema";
import { readQuery } from "../http/body";
import type { AppEnv } from "../http/types";
import { effectiveLimits } from "../limits/policy";
import { type BudgetUse, limitStatus } from "../limits/status";
import { emptyTally, realtimeByDay, type Tally } from "../livekit/metering";
import { drainOutbox } from "../outbox/outbox";

const DAY = 86_400_000;
const instant = z.union([z.iso.datetime({ offset: true }), z.iso.date()]).transform((v) => new Date(v));

const query = z.object({
  from: instant.optional(),
  to: instant.optional(),
  group_by: z.enum(["day", "model", "key", "provider"]).default("day"),
});

// A request that could not be routed has no provider (and perhaps no model): its group is null.
const GROUPS = {
  day: sql<string>`to_char(${usageEvents.createdAt} at time zone 'UTC', 'YYYY-MM-DD')`,
  model: sql<string | null>`coalesce(${usageEvents.model}, ${usageEvents.requestedModel})`,
  key: sql<string | null>`${usageEvents.keyId}::text`,
  provider: sql<string | null>`${usageEvents.provider}`,
};

/** Each active key's budgets, per period, as they stand now (whatever from and to say). */
async function budgets(config: Config, db: Database, tenantId: string) {
  const [keys, ceilings] = await Promise.all([listApiKeys(db, tenantId), findTenantLimits(db, tenantId)]);
  const limited = keys
    .filter((k) => k.revokedAt === null)
    .map((k) => ({ ...k, limits: effectiveLimits(k.policy, ceilings) }))
    .filter((k) => k.limits?.dailyBudgetUsd != null || k.limits?.monthlyBudgetUsd != null);
  const status = await limitStatus(config, db, tenantId, limited);
  const row = (key: { id: string; name: string }, period: "day" | "month", b: BudgetUse) => ({
    key_id: key.id,
    key_name: key.name,
    period,
    period_start: b.periodStart,
    resets_at: b.resetsAt,
    limit_usd: b.limitUsd,
    spent_usd: b.spentUsd,
    reserved_usd: b.reservedUsd,
    remaining_usd: b.remainingUsd,
  });
  return limited.flatMap((key) => {
    const s = status.get(key.id);
    return [
      ...(s?.dailyBudget ? [row(key, "day", s.dailyBudget)] : []),
      ...(s?.monthlyBudget ? [row(key, "month", s.monthlyBudget)] : []),
    ];
  });
}

export const usageRoutes = new Hono<AppEnv>().get("/", async (c) => {
  const q = readQuery(c, query);
  const to = q.to ?? new Date();
  const from = q.from ?? new Date(to.getTime() - 30 * DAY);
  if (from >= to) throw errors.badRequest("invalid_query", "from must be before to", "from");
  if (to.getTime() - from.getTime() > 400 * DAY)
    throw errors.badRequest("invalid_query", "at most 400 days at once", "from");

  const config = c.get("config");
  const { tenantId } = c.get("caller");
  // Read-your-usage: move queued events into Postgres first. If that fails, report what is stored.
  try {
    await drainOutbox(config, { maxBatches: 5, forRead: true, db: c.get("db").db });
  } catch (err) {
    console.warn(JSON.stringify({ level: "warn", msg: "usage drain failed", error: describeDbError(err) }));
  }

  const groupBy = q.group_by;
  const bucket = GROUPS[groupBy];
  const rows = await c
    .get("db")
    .db.select({
      key: bucket,
      requests: sql<number>`count(*)::int`,
      errors: sql<number>`(count(*) filter (where ${usageEvents.status} >= 400 or ${usageEvents.errorCode} is not null))::int`,
      input_tokens: sql<number>`coalesce(sum(${usageEvents.inputTokens}), 0)::bigint`,
      output_tokens: sql<number>`coalesce(sum(${usageEvents.outputTokens}), 0)::bigint`,
      cached_tokens: sql<number>`coalesce(sum(${usageEvents.cachedTokens}), 0)::bigint`,
      // Null when no request of the group had a price; unpriced requests are counted apart.
      cost_usd: sql<number | null>`sum(${usageEvents.costUsd})::float8`,
      unpriced_requests: sql<number>`(count(*) filter (where ${usageEvents.costUsd} is null and ${usageEvents.status} < 400))::int`,
      // Of the requests that succeeded: a failure's time says nothing about the model's speed.
      latency_ms_avg: sql<
        number | null
      >`(avg(${usageEvents.latencyMs}) filter (where ${usageEvents.status} < 400))::float8`,
      latency_ms_p95: sql<
        number | null
      >`(percentile_cont(0.95) within group (order by ${usageEvents.latencyMs}) filter (where ${usageEvents.status} < 400))::float8`,
    })
    .from(usageEvents)
    .where(
      and(
        eq(usageEvents.tenantId, tenantId),
        gte(usageEvents.createdAt, from),
        lt(usageEvents.createdAt, to),
      ),
    )
    .groupBy(bucket)
    .orderBy(bucket);

  const measures = rows.map((r) => ({
    requests: r.requests,
    errors: r.errors,
    input_tokens: Number(r.input_tokens),
    output_tokens: Number(r.output_tokens),
    cached_tokens: Number(r.cached_tokens),
    cost_usd: r.cost_usd === null ? null : Number(r.cost_usd),
    unpriced_requests: r.unpriced_requests,
  }));
  const ms = (v: number | null) => (v === null ? null : Math.round(Number(v)));
  const data = rows.map((r, i) => ({
    [groupBy]: r.key,
    ...measures[i],
    latency_ms_avg: ms(r.latency_ms_avg),
    latency_ms_p95: ms(r.latency_ms_p95),
  }));
  const totals = measures.reduce(
    (t, m) => ({
      requests: t.requests + m.requests,
      errors: t.errors + m.errors,
      input_tokens: t.input_tokens + m.input_tokens,
      output_tokens: t.output_tokens + m.output_tokens,
      cached_tokens: t.cached_tokens + m.cached_tokens,
      cost_usd: m.cost_usd === null ? t.cost_usd : (t.cost_usd ?? 0) + m.cost_usd,
      unpriced_requests: t.unpriced_requests + m.unpriced_requests,
    }),
    {
      requests: 0,
      errors: 0,
      input_tokens: 0,
      output_tokens: 0,
      cached_tokens: 0,
      cost_usd: null as number | null,
      unpriced_requests: 0,
    },
  );
  // LiveKit: minutes and counts per UTC day, from the tenant's verified webhook events.
  const days = realtimeByDay(await livekitEventsOverlapping(c.get("db").db, tenantId, from, to), from, to);
  const round = (t: Tally): Tally =>
    Object.fromEntries(
      Object.entries(t).map(([k, v]) => [k, Math.round(v * 10_000) / 10_000]),
    ) as unknown as Tally;
  const realtimeTotals = emptyTally();
  for (const t of days.values()) for (const k of Object.keys(t) as (keyof Tally)[]) realtimeTotals[k] += t[k];
  const realtime = {
    data:
      groupBy === "day"
        ? [...days.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([day, t]) => ({ day, ...round(t) }))
        : [],
    totals: round(realtimeTotals),
  };
  return c.json({
    object: "usage",
    budgets: await budgets(c.get("config"), c.get("db").db, tenantId),
    from: from.toISOString(),
    to: to.toISOString(),
    group_by: groupBy,
    data,
    totals,
    realtime,
  });
});
