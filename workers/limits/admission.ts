import type { Redis } from "@upstash/redis/cloudflare";
import { errors, type RelayError } from "../../common/errors";
import type { Config } from "../config/env";
import { describeDbError } from "../db/errors";
import { type Spend, spendOf } from "../db/queries/spend";
import type { GatewayContext } from "../gateway/context";
import { drainOutbox } from "../outbox/outbox";
import { answerWithin, redisFrom, scriptFor } from "../redis/client";
import type { Json, TokenUsage } from "../translate/types";
import { estimateInputTokens } from "../usage/estimate";
import { costOf } from "../usage/prices";
import { type RateState, rateLimitHeaders } from "./headers";
import {
  DAY_COUNTER_TTL_S,
  type LimitKeys,
  limitKeys,
  MONTH_COUNTER_TTL_S,
  type Periods,
  periodsAt,
} from "./keys";
import { type Limits, refusingList } from "./policy";
import {
  ADMIT,
  ADMITTED,
  OVER_BUDGET,
  OVER_CONCURRENCY,
  OVER_RPM,
  OVER_TPM,
  REBUILD,
  SETTLE_ARGS,
} from "./scripts";
import { queueSettlement, takeSettlements, warnSettlement } from "./settlement";

/** What admission reads of a request. */
export interface AdmissionRequest {
  endpoint: string;
  body: Json;
  /** Every model the request may reach: the requested one and its fallbacks. */
  candidates: string[];
}

/** An admitted request of a limited key. */
export interface Admission {
  /** Rate-limit headers for every response of this request. */
  readonly headers: Record<string, string>;
  /** Charges what the request used and releases what it held; once, when its answer has ended. */
  settle(usage: TokenUsage | null, costUsd: number | null): void;
}

export const LIMITS_NEED_REDIS =
  "This key has rate limits, a concurrency limit or budgets, which relay keeps in Redis, and no Redis is configured: set UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN (npm run dev sets them when REDIS_URL is set)";

/**
 * A lease outlives the request's own deadline by this much: long enough for a stream that ran to
 * its deadline to settle first, short enough that a request whose isolate died frees its slot and
 * its reserved cost soon. Charging does not depend on the lease, only the reservation does.
 */
const LEASE_MARGIN_MS = 10_000;
/** After Redis failed to answer, this isolate does not wait on it again for a while. */
const BACKOFF_MS = 2_000;

type Reply = number[];

/** Redis down, per Redis URL: requests in the backoff do not wait for a timeout each. */
const unreachableUntil = new Map<string, number>();
/** Requests served without their limits since this isolate started (RELAY_LIMITS_ON_REDIS_FAILURE=open). */
let unenforced = 0;

function outputAllowance(endpoint: string, body: Json, config: Config): number {
  if (endpoint === "embeddings") return 0;
  const b = body as Record<string, unknown>;
  for (const field of ["max_tokens", "max_completion_tokens", "max_output_tokens"]) {
    const v = b[field];
    if (typeof v === "number" && v > 0) return v;
  }
  return config.RELAY_LIMITS_DEFAULT_MAX_TOKENS;
}

/** The highest price any candidate would charge for the estimate (0 when none has a price). */
function estimatedCostUsd(config: Config, candidates: string[], input: number, output: number): number {
  let max = 0;
  for (const candidate of candidates) {
    // Prices are by upstream model name: without the `credential:` prefix routing strips.
    const model = candidate.slice(candidate.indexOf(":") + 1);
    max = Math.max(max, costOf(config, model, { input, output, cached: 0 }) ?? 0);
  }
  return max;
}

const usd = (v: number) => `$${Math.round(v * 1e6) / 1e6}`;

export function keyExpired(expiresAt: number): RelayError {
  return errors.unauthorized("key_expired", `This API key expired at ${new Date(expiresAt).toISOString()}`);
}

function withHeaders(err: RelayError, headers: Record<string, string>): RelayError {
  Object.assign(err.headers, headers);
  return err;
}

/**
 * Admits a request of a limited key or refuses it: expiry and the model allow-lists here, then
 * every counted limit (requests and tokens per minute, requests in flight, daily and monthly
 * budgets) in one atomic Redis script, one round trip. Tokens and cost are reserved from an
 * estimate (input + max_tokens, or RELAY_LIMITS_DEFAULT_MAX_TOKENS) and settled with what the
 * request really used. Null for a key nothing limits: no Redis call at all.
 */
export async function admit(ctx: GatewayContext, req: AdmissionRequest): Promise<Admission | null> {
  const limits = ctx.caller.limits;
  if (!limits) return null;
  if (limits.expiresAt !== null && Date.now() >= limits.expiresAt) throw keyExpired(limits.expiresAt);
  for (const model of req.candidates) {
    const allowed = refusingList(limits, model);
    if (allowed) {
      throw errors.forbidden(
        "model_not_allowed",
        `This key may not use model '${model}'; its policy allows ${allowed.join(", ")}`,
      );
    }
  }
  if (!limits.counted) return null;

  const { config } = ctx;
  const redis = redisFrom(config);
  if (!redis) throw errors.unavailable("limits_unavailable", LIMITS_NEED_REDIS);
  const url = config.UPSTASH_REDIS_REST_URL as string;

  const budgets = limits.dailyBudgetUsd !== null || limits.monthlyBudgetUsd !== null;
  let tokens = 0;
  let costMicros = 0;
  if (limits.tpm !== null || budgets) {
    const input = estimateInputTokens(req.body);
    const output = outputAllowance(req.endpoint, req.body, config);
    // No single request can need more than the whole window: one that large waits for an empty one.
    if (limits.tpm !== null) tokens = Math.min(input + output, limits.tpm);
    if (budgets) costMicros = Math.ceil(estimatedCostUsd(config, req.candidates, input, output) * 1e6);
  }
  const periods = periodsAt(Date.now());
  const keys = limitKeys(ctx.caller.keyId, periods);
  const leased = limits.maxConcurrent !== null || budgets;
  const id = crypto.randomUUID();
  const args: (string | number)[] = [
    id,
    limits.rpm ?? 0,
    limits.tpm ?? 0,
    limits.maxConcurrent ?? 0,
    limits.dailyBudgetUsd === null ? -1 : limits.dailyBudgetUsd * 1e6,
    limits.monthlyBudgetUsd === null ? -1 : limits.monthlyBudgetUsd * 1e6,
    tokens,
    String(costMicros),
    config.REQUEST_TIMEOUT_SECONDS * 1000 + LEASE_MARGIN_MS,
    DAY_COUNTER_TTL_S,
    MONTH_COUNTER_TTL_S,
    "",
    "",
  ];

  let reply: Reply | null = null;
  let failure: unknown = null;
  if ((unreachableUntil.get(url) ?? 0) > Date.now()) {
    failure = new Error("Redis failed moments ago; it is not asked again before the back-off ends");
  } else {
    // Settlements of this key's earlier requests ride along: still one round trip.
    const settleKeys = [keys.tokens, keys.inFlight, keys.day, keys.month];
    const carried = takeSettlements(redis, settleKeys);
    const script = scriptFor(redis, ADMIT);
    const keyList = [keys.requests, ...settleKeys];
    try {
      reply = (await answerWithin(
        script.exec(keyList, [...args.map(String), String(carried.length / SETTLE_ARGS), ...carried]),
        config.RELAY_LIMITS_TIMEOUT_MS,
      )) as Reply;
      if (reply[0] === REBUILD) {
        const spend = await rebuiltSpend(ctx, periods);
        if (reply[1]) args[11] = String(spend.day * 1e6);
        if (reply[2]) args[12] = String(spend.month * 1e6);
        reply = (await answerWithin(
          script.exec(keyList, [...args.map(String), "0"]),
          config.RELAY_LIMITS_TIMEOUT_MS,
        )) as Reply;
        if (reply[0] === REBUILD) throw new Error("the spend counters could not be rebuilt");
      }
    } catch (err) {
      unreachableUntil.set(url, Date.now() + BACKOFF_MS);
      failure = err;
      // Whether they landed is unknown; what they held is released by expiry.
      if (carried.length) warnSettlement(err, carried.length / SETTLE_ARGS);
    }
  }
  if (!reply) {
    if (config.RELAY_LIMITS_ON_REDIS_FAILURE === "closed") {
      throw errors.unavailable(
        "limits_unavailable",
        "This key's limits cannot be checked right now (Redis is unreachable); retry shortly",
      );
    }
    unenforced++;
    console.warn(
      JSON.stringify({
        level: "warn",
        msg: "limits not enforced: Redis is unreachable (RELAY_LIMITS_ON_REDIS_FAILURE=open)",
        unenforcedRequests: unenforced,
        keyId: ctx.caller.keyId,
        error: failure instanceof Error ? failure.message : String(failure),
      }),
    );
    // Still try to charge the spend afterwards, so the counters miss as little as they can.
    return new Held({ "x-relay-limits": "unenforced" }, ctx, redis, keys, id, null, 0, false, budgets);
  }

  const anthropic = req.endpoint === "messages";
  switch (reply[0]) {
    case ADMITTED: {
      const state: RateState = {};
      if (limits.rpm !== null)
        state.requests = { limit: limits.rpm, remaining: Number(reply[1]), resetMs: Number(reply[2]) };
      if (limits.tpm !== null)
        state.tokens = { limit: limits.tpm, remaining: Number(reply[3]), resetMs: Number(reply[4]) };
      return new Held(
        rateLimitHeaders(state, anthropic),
        ctx,
        redis,
        keys,
        id,
        limits.tpm === null ? null : tokens,
        costMicros,
        leased,
        budgets,
      );
    }
    case OVER_BUDGET:
      throw budgetExceeded(limits, reply, costMicros, periods);
    case OVER_CONCURRENCY:
      throw errors.rateLimited(
        "concurrency_limit_exceeded",
        `This key already has ${limits.maxConcurrent} requests in flight, its maxConcurrent; retry when one ends`,
        1000,
      );
    case OVER_RPM: {
      const ms = Number(reply[1]);
      const rpm = limits.rpm as number;
      throw withHeaders(
        errors.rateLimited(
          "rate_limit_exceeded",
          `Rate limit reached: this key may make ${rpm} requests per minute`,
          ms,
        ),
        rateLimitHeaders({ requests: { limit: rpm, remaining: 0, resetMs: ms } }, anthropic),
      );
    }
    case OVER_TPM: {
      const ms = Number(reply[1]);
      const tpm = limits.tpm as number;
      const used = Number(reply[2]);
      throw withHeaders(
        errors.rateLimited(
          "token_rate_limit_exceeded",
          `Token rate limit reached: this key may use ${tpm} tokens per minute; ${used} are in use and this request reserves ${tokens} (its input and max_tokens)`,
          ms,
        ),
        rateLimitHeaders({ tokens: { limit: tpm, remaining: tpm - used, resetMs: ms } }, anthropic),
      );
    }
    default:
      throw new Error(`unexpected answer from the limits script: ${String(reply[0])}`);
  }
}

function budgetExceeded(limits: Limits, reply: Reply, costMicros: number, periods: Periods): RelayError {
  const day = reply[1] === 1;
  const limit = (day ? limits.dailyBudgetUsd : limits.monthlyBudgetUsd) as number;
  const spent = Number(reply[2]) / 1e6;
  const reserved = Number(reply[3]) / 1e6;
  const resets = new Date(day ? periods.dayEnd : periods.monthEnd).toISOString();
  const inFlight = reserved > 0 ? `, ${usd(reserved)} is reserved by requests in flight` : "";
  const estimate =
    spent + reserved < limit
      ? `; this request could cost up to ${usd(costMicros / 1e6)} (lower max_tokens)`
      : "";
  return errors.paymentRequired(
    "budget_exceeded",
    `This key's ${day ? "daily" : "monthly"} budget of ${usd(limit)} does not cover this request: ${usd(spent)} is spent${inFlight}${estimate}. It resets at ${resets}.`,
  );
}

/**
 * A key's spend this day and month from Postgres, for counters Redis has lost (a restart, an
 * eviction, a flush) or never had (a new day). Queued usage events move into Postgres first, so
 * they count. Only ever on a missing counter: not a query per request.
 */
async function rebuiltSpend(ctx: GatewayContext, periods: Periods): Promise<Spend> {
  try {
    await drainOutbox(ctx.config, { maxBatches: 5, forRead: true, db: ctx.db.db });
  } catch (err) {
    console.warn(
      JSON.stringify({
        level: "warn",
        msg: "usage drain before a budget rebuild failed",
        error: describeDbError(err),
      }),
    );
  }
  const { keyId, tenantId } = ctx.caller;
  const spend = await spendOf(
    ctx.db.db,
    tenantId,
    [keyId],
    new Date(periods.dayStart),
    new Date(periods.monthStart),
  );
  return spend.get(keyId) ?? { day: 0, month: 0 };
}

/** What an admitted request holds, until it settles. A class: nothing is allocated per request but it. */
class Held implements Admission {
  private settled = false;

  constructor(
    readonly headers: Record<string, string>,
    private readonly ctx: GatewayContext,
    private readonly redis: Redis,
    private readonly keys: LimitKeys,
    private readonly id: string,
    /** Reserved against tpm; null when none was (no tpm, or Redis unreachable at admission). */
    private readonly tokens: number | null,
    private readonly costMicros: number,
    private readonly lease: boolean,
    private readonly budgets: boolean,
  ) {}

  settle(usage: TokenUsage | null, costUsd: number | null): void {
    if (this.settled) return;
    this.settled = true;
    const tokensOn = this.tokens !== null;
    const used = tokensOn && usage ? usage.input + usage.output : 0;
    const spent = costUsd !== null && costUsd > 0 ? costUsd * 1e6 : 0;
    // Nothing held and no budget to charge (a key with only rpm): no settlement at all.
    if (!tokensOn && !this.lease && !(this.budgets && spent > 0)) return;
    const { keys } = this;
    queueSettlement(
      this.ctx.config,
      this.redis,
      [keys.tokens, keys.inFlight, keys.day, keys.month],
      [
        this.id,
        String(this.tokens ?? 0),
        String(used),
        String(this.costMicros),
        String(spent),
        this.lease ? "1" : "0",
      ],
      this.ctx.waitUntil,
    );
  }
}
