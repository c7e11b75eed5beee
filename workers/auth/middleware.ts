import type { MiddlewareHandler } from "hono";
import { errors, RelayError } from "../../common/errors";
import { findCallerByKeyHash, touchApiKey } from "../db/queries/api-keys";
import type { AppEnv } from "../http/types";
import { keyExpired } from "../limits/admission";
import { hashApiKey, isWellFormedApiKey } from "./api-key";
import { blockedMs, clientAddress, failedAuthentication, tooManyFailures } from "./failures";
import { keyCache } from "./key-cache";

// The presented key is hashed on every request and never kept: a SHA-256 digest costs
// microseconds, while a map from raw key to hash would hold thousands of live secrets in the
// isolate. Everything remembered about a key (the cache below) is keyed by its hash.

// last_used_at is bookkeeping, not security: write it at most once a minute per key per isolate.
const TOUCH_INTERVAL_MS = 60_000;

/**
 * When each key was last touched, bounded: keys come and go (created, revoked) for as long as the
 * isolate lives, and an entry older than the interval means the same as no entry, so those are what
 * make room.
 */
export class TouchSchedule {
  private readonly last = new Map<string, number>();
  constructor(
    private readonly intervalMs: number,
    private readonly maxKeys: number,
  ) {}

  /** Whether the key is due a touch now; if so, it counts as touched. */
  due(keyId: string, now: number): boolean {
    if ((this.last.get(keyId) ?? Number.NEGATIVE_INFINITY) + this.intervalMs > now) return false;
    if (!this.last.has(keyId) && this.last.size >= this.maxKeys) {
      for (const [id, at] of this.last) if (at + this.intervalMs <= now) this.last.delete(id);
      if (this.last.size >= this.maxKeys) this.last.clear(); // all fresh: a few extra writes, no growth
    }
    this.last.set(keyId, now);
    return true;
  }

  get size(): number {
    return this.last.size;
  }
}

const touches = new TouchSchedule(TOUCH_INTERVAL_MS, 10_000);

function presentedKey(authorization: string | undefined, xApiKey: string | undefined): string | undefined {
  if (authorization) {
    const match = /^Bearer\s+(.+)$/i.exec(authorization.trim());
    if (!match)
      throw errors.unauthorized("invalid_authorization", "Authorization header must be 'Bearer <key>'");
    return match[1]?.trim();
  }
  return xApiKey?.trim() || undefined;
}

const invalidKey = () => errors.unauthorized("invalid_api_key", "Invalid API key");

/**
 * API-key authentication: the caller's tenant is always the key's tenant. Failed attempts are
 * counted per client address; past RATE_LIMIT_AUTH_MAX an address gets 429 without a database
 * lookup, unless it presents a key this isolate already knows as valid.
 */
export const requireApiKey: MiddlewareHandler<AppEnv> = async (c, next) => {
  const config = c.get("config");
  const address = clientAddress(c.req.header("cf-connecting-ip"));
  let key: string | undefined;
  try {
    key = presentedKey(c.req.header("authorization"), c.req.header("x-api-key"));
  } catch (err) {
    throw err instanceof RelayError ? await failedAuthentication(config, address, err) : err;
  }
  if (!key) {
    throw errors.unauthorized(
      "missing_api_key",
      "No API key: send 'Authorization: Bearer relay_live_…' or 'x-api-key: relay_live_…'",
    );
  }
  if (!isWellFormedApiKey(key)) throw await failedAuthentication(config, address, invalidKey());

  const hash = await hashApiKey(key);
  const blocked = blockedMs(config, address);
  if (blocked > 0 && !keyCache.peek(hash)) throw tooManyFailures(blocked);
  const handle = c.get("db");
  const caller = await keyCache.get(
    hash,
    config.RELAY_KEY_CACHE_TTL_MS,
    () => findCallerByKeyHash(handle.db, hash),
    (refresh) => handle.defer(() => refresh),
  );
  if (!caller) throw await failedAuthentication(config, address, invalidKey());
  const expiresAt = caller.limits?.expiresAt ?? null;
  if (expiresAt !== null && Date.now() >= expiresAt) throw keyExpired(expiresAt);
  c.set("caller", caller);

  if (touches.due(caller.keyId, Date.now())) handle.defer(() => touchApiKey(handle.db, caller.keyId));
  await next();
};
