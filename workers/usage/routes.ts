import { and, eq, gte, lt, sql } from "drizzle-orm";
import { Hono } from "hono";
import { z } from "zod";
import { errors } from "../../common/errors";
import { livekitEventsOverlapping } from "../db/queries/livekit";
import { usageEvents } from "../db/schema";
import type { AppEnv } from "../http/types";
import { emptyTally, realtimeByDay, type Tally } from "../livekit/metering";
import { drainUsage } from "./recorder";

const DAY = 86_400_000;
const instant = z.union([z.iso.datetime({ offset: true }), z.iso.date()]).transform((v) => new Date(v));

const query = z.object({
  from: instant.optional(),
  to: instant.optional(),
  group_by: z.enum(["day", "model", "key", "provider"]).default("day"),
});

const GROUPS = {
  day: sql<string>`to_char(${usageEvents.createdAt} at time zone 'UTC', 'YYYY-MM-DD')`,
  model: sql<string>`coalesce(${usageEvents.model}, ${usageEvents.requestedModel}, '')`,
  key: sql<string>`coalesce(${usageEvents.keyId}::text, '')`,
  provider: sql<string>`coalesce(${usageEvents.provider}, '')`,
};

export const usageRoutes = new Hono<AppEnv>().get("/", async (c) => {
  const parsed = query.safeParse(c.req.query());
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const param = issue?.path.join(".") ?? null;
    throw errors.badRequest("invalid_query", `${param}: ${issue?.message}`, param);
  }
  const to = parsed.data.to ?? new Date();
  const from = parsed.data.from ?? new Date(to.getTime() - 30 * DAY);
  if (from >= to) throw errors.badRequest("invalid_query", "from must be before to", "from");
  if (to.getTime() - from.getTime() > 400 * DAY)
    throw errors.badRequest("invalid_query", "at most 400 days at once", "from");

  const config = c.get("config");
  const { tenantId } = c.get("caller");
  // Read-your-usage: move queued events into Postgres first. If that fails, report what is stored.
  try {
    await drainUsage(config, 5);
  } catch (err) {
    console.warn(JSON.stringify({ level: "warn", msg: "usage drain failed", error: String(err) }));
  }

  const groupBy = parsed.data.group_by;
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
      cost_usd: sql<number>`coalesce(sum(${usageEvents.costUsd}), 0)::float8`,
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

  const data = rows.map((r) => ({
    [groupBy]: r.key,
    requests: r.requests,
    errors: r.errors,
    input_tokens: Number(r.input_tokens),
    output_tokens: Number(r.output_tokens),
    cached_tokens: Number(r.cached_tokens),
    cost_usd: Number(r.cost_usd),
  }));
  const totals = data.reduce(
    (t, r) => ({
      requests: t.requests + r.requests,
      errors: t.errors + r.errors,
      input_tokens: t.input_tokens + r.input_tokens,
      output_tokens: t.output_tokens + r.output_tokens,
      cached_tokens: t.cached_tokens + r.cached_tokens,
      cost_usd: t.cost_usd + r.cost_usd,
    }),
    { requests: 0, errors: 0, input_tokens: 0, output_tokens: 0, cached_tokens: 0, cost_usd: 0 },
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
    from: from.toISOString(),
    to: to.toISOString(),
    group_by: groupBy,
    data,
    totals,
    realtime,
  });
});
