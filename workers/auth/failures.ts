import { errors, type RelayError } from "../../common/errors";
import type { Config } from "../config/env";
import { AUTH_FAILURE } from "../limits/scripts";
import { answerWithin, redisFrom, scriptFor } from "../redis/client";

/**
 * The client address failed authentications are counted by. On Cloudflare that is
 * `cf-connecting-ip`, which Cloudflare sets and clients cannot; `wrangler dev` sets it from the
 * socket. Plain workerd sets nothing: every client then shares one count, so a flood of bad keys
 * is throttled as a whole (keys this isolate knows as valid still pass). An IPv6 client owns at
 * least a /64, so that is what is counted.
 */
export function clientAddress(header: string | undefined | null): string {
  const ip = header?.trim().toLowerCase();
  if (!ip) return "unknown";
  if (!ip.includes(":")) return ip;
  const v4 = /(\d{1,3}(?:\.\d{1,3}){3})$/.exec(ip);
  if (v4?.[1]) return v4[1];
  const [head = "", tail] = ip.split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups =
    tail === undefined
      ? left
      : [...left, ...Array(Math.max(8 - left.length - right.length, 0)).fill("0"), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}

/** Where an address stands, as this isolate last learnt: blocked until then. */
const blockedUntil = new Map<string, number>();
/** Without Redis (or while it fails), failures are counted per isolate. */
const local = new Map<string, number[]>();
const MAX_ADDRESSES = 10_000;

function remember<T>(map: Map<string, T>, key: string, value: T): void {
  // Bounded: a spray of addresses must not grow the isolate without end.
  if (!map.has(key) && map.size >= MAX_ADDRESSES) map.clear();
  map.set(key, value);
}

/** How long this address stays refused, as far as this isolate knows (0: not refused). */
export function blockedMs(config: Config, address: string): number {
  if (config.RATE_LIMIT_AUTH_MAX === 0) return 0;
  const until = blockedUntil.get(address);
  if (until === undefined) return 0;
  const left = until - Date.now();
  if (left <= 0) blockedUntil.delete(address);
  return Math.max(left, 0);
}

export function tooManyFailures(ms: number): RelayError {
  return errors.rateLimited(
    "auth_rate_limit_exceeded",
    "Too many failed authentication attempts from this address; retry later",
    ms,
  );
}

/** The Redis script's logic, in the isolate. */
function countLocally(config: Config, address: string): { recorded: boolean; waitMs: number } {
  const now = Date.now();
  const max = config.RATE_LIMIT_AUTH_MAX;
  const window = config.RATE_LIMIT_AUTH_WINDOW_SECONDS * 1000;
  const log = (local.get(address) ?? []).filter((t) => t > now - window);
  const recorded = log.length < max;
  if (recorded) log.push(now);
  remember(local, address, log);
  return { recorded, waitMs: log.length < max ? 0 : (log[log.length - max] as number) + window - now };
}

/**
 * Counts a failed authentication of `address` (RATE_LIMIT_AUTH_MAX per
 * RATE_LIMIT_AUTH_WINDOW_SECONDS, across isolates through Redis) and returns what to answer: the
 * failure itself, or 429 once the address is over the limit. A refused address is remembered in
 * the isolate, so its further attempts cost neither Redis nor a database lookup.
 */
export async function failedAuthentication(
  config: Config,
  address: string,
  failure: RelayError,
): Promise<RelayError> {
  if (config.RATE_LIMIT_AUTH_MAX === 0) return failure;
  const already = blockedMs(config, address);
  if (already > 0) return tooManyFailures(already);

  let outcome: { recorded: boolean; waitMs: number };
  const redis = redisFrom(config);
  try {
    if (!redis) throw new Error("no Redis");
    const script = scriptFor(redis, AUTH_FAILURE);
    const args = [
      crypto.randomUUID(),
      String(config.RATE_LIMIT_AUTH_MAX),
      String(config.RATE_LIMIT_AUTH_WINDOW_SECONDS * 1000),
    ];
    const reply = (await answerWithin(
      script.exec([`relay:authfail:{${address}}`], args),
      config.RELAY_LIMITS_TIMEOUT_MS,
    )) as number[];
    outcome = { recorded: reply[0] === 1, waitMs: Number(reply[1]) };
  } catch {
    outcome = countLocally(config, address);
  }
  const { recorded, waitMs } = outcome;
  if (waitMs > 0) remember(blockedUntil, address, Date.now() + waitMs);
  return recorded ? failure : tooManyFailures(waitMs);
}
