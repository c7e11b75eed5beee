import type { Config } from "../config/env";
import type { Database } from "../db/database";
import { spendOf } from "../db/queries/spend";
import { redisFrom } from "../redis/client";
import { limitKeys, periodsAt, WINDOW_MS } from "./keys";
import type { Limits } from "./policy";

/** A rate limit over the last 60 seconds. `used` is null when Redis could not be read. */
export interface RateUse {
  limit: number;
  used: number | null;
  remaining: number | null;
  /** When `remaining` next grows (the oldest unit leaves the window); null when nothing is used. */
  resetsAt: string | null;
}

export interface BudgetUse {
  limitUsd: number;
  spentUsd: number;
  /** Held by requests in flight (their estimated cost); null when Redis could not be read. */
  reservedUsd: number | null;
  remainingUsd: number;
  periodStart: string;
  resetsAt: string;
}

/** Where a key stands against each of its effective limits. */
export interface LimitStatus {
  requestsPerMinute?: RateUse;
  tokensPerMinute?: RateUse;
  concurrent?: { limit: number; inFlight: number | null; remaining: number | null };
  dailyBudget?: BudgetUse;
  monthlyBudget?: BudgetUse;
  expiresAt?: string;
}

interface Counters {
  requests: number;
  oldestRequest: number | null;
  tokens: number;
  oldestToken: number | null;
  inFlight: number;
  reservedMicros: number;
  dayMicros: number | null;
  monthMicros: number | null;
}

const weight = (member: string) => Number(member.slice(member.lastIndexOf("|") + 1)) || 0;
const round = (usd: number) => Math.round(usd * 1e6) / 1e6;

/** Every key's counters in one pipeline (one round trip), read without changing anything. */
async function readCounters(
  config: Config,
  keyIds: string[],
  now: number,
): Promise<Map<string, Counters> | null> {
  const redis = redisFrom(config);
  if (!redis || keyIds.length === 0) return null;
  const periods = periodsAt(now);
  const since = `(${now - WINDOW_MS}` as const;
  const pipe = redis.pipeline();
  for (const id of keyIds) {
    const k = limitKeys(id, periods);
    pipe.zrange(k.requests, since, "+inf", { byScore: true, withScores: true });
    pipe.zrange(k.tokens, since, "+inf", { byScore: true, withScores: true });
    pipe.zrange(k.inFlight, `(${now}`, "+inf", { byScore: true });
    pipe.get(k.day);
    pipe.get(k.month);
  }
  let replies: unknown[];
  try {
    replies = await pipe.exec();
  } catch (err) {
    console.warn(
      JSON.stringify({
        level: "warn",
        msg: "limit counters unreadable",
        error: err instanceof Error ? err.message : String(err),
      }),
    );
    return null;
  }
  const out = new Map<string, Counters>();
  keyIds.forEach((id, i) => {
    const [req, tok, fly, day, month] = replies.slice(i * 5, i * 5 + 5) as [
      string[],
      string[],
      string[],
      string | null,
      string | null,
    ];
    let tokens = 0;
    for (let j = 0; j < tok.length; j += 2) tokens += weight(tok[j] as string);
    out.set(id, {
      requests: req.length / 2,
      oldestRequest: req.length ? Number(req[1]) : null,
      tokens,
      oldestToken: tok.length ? Number(tok[1]) : null,
      inFlight: fly.length,
      reservedMicros: fly.reduce((t, m) => t + weight(m), 0),
      dayMicros: day === null ? null : Number(day),
      monthMicros: month === null ? null : Number(month),
    });
  });
  return out;
}

/**
 * Where each key stands: requests and tokens in the last minute, requests in flight, spend this
 * UTC day and month. Counters come from Redis; spend Redis no longer has comes from Postgres.
 */
export async function limitStatus(
  config: Config,
  db: Database,
  tenantId: string,
  keys: { id: string; limits: Limits | null }[],
): Promise<Map<string, LimitStatus>> {
  const now = Date.now();
  const periods = periodsAt(now);
  const counted = keys.filter((k) => k.limits?.counted);
  const counters = await readCounters(
    config,
    counted.map((k) => k.id),
    now,
  );
  const needSpend = counted
    .filter(({ id, limits }) => {
      const c = counters?.get(id);
      return (
        (limits?.dailyBudgetUsd !== null && c?.dayMicros == null) ||
        (limits?.monthlyBudgetUsd !== null && c?.monthMicros == null)
      );
    })
    .map((k) => k.id);
  const stored = await spendOf(
    db,
    tenantId,
    needSpend,
    new Date(periods.dayStart),
    new Date(periods.monthStart),
  );

  const out = new Map<string, LimitStatus>();
  for (const { id, limits } of keys) {
    if (!limits) continue;
    const status: LimitStatus = {};
    const c = counters?.get(id);
    const at = (oldest: number | null | undefined) =>
      oldest == null ? null : new Date(oldest + WINDOW_MS).toISOString();
    if (limits.rpm !== null) {
      status.requestsPerMinute = {
        limit: limits.rpm,
        used: c ? c.requests : null,
        remaining: c ? Math.max(limits.rpm - c.requests, 0) : null,
        resetsAt: at(c?.oldestRequest),
      };
    }
    if (limits.tpm !== null) {
      status.tokensPerMinute = {
        limit: limits.tpm,
        used: c ? c.tokens : null,
        remaining: c ? Math.max(limits.tpm - c.tokens, 0) : null,
        resetsAt: at(c?.oldestToken),
      };
    }
    if (limits.maxConcurrent !== null) {
      status.concurrent = {
        limit: limits.maxConcurrent,
        inFlight: c ? c.inFlight : null,
        remaining: c ? Math.max(limits.maxConcurrent - c.inFlight, 0) : null,
      };
    }
    const reserved = c ? c.reservedMicros / 1e6 : null;
    const budget = (
      limit: number,
      micros: number | null | undefined,
      pg: number,
      start: number,
      end: number,
    ) => {
      const spent = micros == null ? pg : micros / 1e6;
      return {
        limitUsd: limit,
        spentUsd: round(spent),
        reservedUsd: reserved === null ? null : round(reserved),
        remainingUsd: round(Math.max(limit - spent - (reserved ?? 0), 0)),
        periodStart: new Date(start).toISOString(),
        resetsAt: new Date(end).toISOString(),
      };
    };
    const pg = stored.get(id) ?? { day: 0, month: 0 };
    if (limits.dailyBudgetUsd !== null)
      status.dailyBudget = budget(
        limits.dailyBudgetUsd,
        c?.dayMicros,
        pg.day,
        periods.dayStart,
        periods.dayEnd,
      );
    if (limits.monthlyBudgetUsd !== null) {
      status.monthlyBudget = budget(
        limits.monthlyBudgetUsd,
        c?.monthMicros,
        pg.month,
        periods.monthStart,
        periods.monthEnd,
      );
    }
    if (limits.expiresAt !== null) status.expiresAt = new Date(limits.expiresAt).toISOString();
    out.set(id, status);
  }
  return out;
}

/**
 * Drops the keys' spend counters of this day and month, so the next request rebuilds them from
 * Postgres: after a budget was set or changed, a counter kept while no budget was enforced (and
 * nothing was charged to it) must not be trusted.
 */
export async function resetSpendCounters(config: Config, keyIds: string[]): Promise<void> {
  const redis = redisFrom(config);
  if (!redis || keyIds.length === 0) return;
  const periods = periodsAt(Date.now());
  const pipe = redis.pipeline();
  for (const id of keyIds) {
    const k = limitKeys(id, periods);
    pipe.del(k.day, k.month);
  }
  try {
    await pipe.exec();
  } catch (err) {
    console.warn(
      JSON.stringify({
        level: "warn",
        msg: "spend counters not reset after a budget change",
        error: err instanceof Error ? err.message : String(err),
      }),
    );
  }
}
