import type { Redis } from "@upstash/redis/cloudflare";
import type { Config } from "../config/env";

// The outbox's queue in Redis. Items are claimed, not popped: a drainer atomically moves a batch
// from the queue onto a list of its own and deletes that list only once Postgres has the batch. A
// batch that fails goes back to the head of the queue at once; the batch of a drainer that died
// (a Worker killed mid-drain) goes back when its claim is older than RELAY_OUTBOX_CLAIM_STALE_MS. Writes are
// idempotent, so a batch written twice counts once.

/**
 * The queue of one database: items drain only into the database they were recorded for, even when
 * several deployments (staging, production, tests) share a Redis. RELAY_DATABASE_ID names it when
 * set (the embedded dev database, whose port changes at every start); otherwise host, port and
 * database name do. The password does not, so rotating it keeps the queue.
 */
function databaseHash(config: Config): string {
  let id = config.RELAY_DATABASE_ID ?? "default";
  if (!config.RELAY_DATABASE_ID && config.DATABASE_URL) {
    const u = new URL(config.DATABASE_URL);
    id = `${u.hostname}:${u.port || 5432}${u.pathname}`;
  }
  // FNV-1a: a short, stable name; no secret goes into it.
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16);
}

export function outboxKeys(config: Config) {
  const base = `relay:outbox:${databaseHash(config)}`;
  return {
    queue: base,
    claims: `${base}:claims`,
    claimedPrefix: `${base}:claimed:`,
    // Where usage waited before runs shared the queue; drained into it once.
    legacy: `relay:usage:pending:${databaseHash(config)}`,
  };
}

// KEYS queue, claims, claimed list, legacy queue · ARGV max, drainer id, now, stale ms, claimed prefix
// → the claimed items. First moves back what dead drainers left, then claims from the queue's head.
const CLAIM = `
if redis.call('EXISTS', KEYS[4]) == 1 then
  local old = redis.call('LRANGE', KEYS[4], 0, -1)
  for i = #old, 1, -1 do redis.call('LPUSH', KEYS[1], old[i]) end
  redis.call('DEL', KEYS[4])
end
local claims = redis.call('HGETALL', KEYS[2])
for i = 1, #claims, 2 do
  if tonumber(ARGV[3]) - tonumber(claims[i + 1]) > tonumber(ARGV[4]) then
    local list = ARGV[5] .. claims[i]
    local items = redis.call('LRANGE', list, 0, -1)
    for j = #items, 1, -1 do redis.call('LPUSH', KEYS[1], items[j]) end
    redis.call('DEL', list)
    redis.call('HDEL', KEYS[2], claims[i])
  end
end
local items = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #items == 0 then return items end
redis.call('LTRIM', KEYS[1], #items, -1)
for i = 1, #items do redis.call('RPUSH', KEYS[3], items[i]) end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return items
`;

// KEYS queue, claims, claimed list · ARGV drainer id, "release" or "done"
const SETTLE = `
if ARGV[2] == 'release' then
  local items = redis.call('LRANGE', KEYS[3], 0, -1)
  for i = #items, 1, -1 do redis.call('LPUSH', KEYS[1], items[i]) end
end
redis.call('DEL', KEYS[3])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
`;

const scripts = new WeakMap<
  Redis,
  { claim: ReturnType<Redis["createScript"]>; settle: ReturnType<Redis["createScript"]> }
>();

function scriptsOf(redis: Redis) {
  let s = scripts.get(redis);
  if (!s) {
    s = { claim: redis.createScript(CLAIM), settle: redis.createScript(SETTLE) };
    scripts.set(redis, s);
  }
  return s;
}

export interface Claim {
  items: string[];
  /** Postgres has the batch: forget it. */
  done(): Promise<void>;
  /** Postgres does not: put it back at the head of the queue. */
  release(): Promise<void>;
}

export async function claimBatch(redis: Redis, config: Config, max: number): Promise<Claim> {
  const keys = outboxKeys(config);
  const drainer = crypto.randomUUID();
  const claimed = `${keys.claimedPrefix}${drainer}`;
  const { claim, settle } = scriptsOf(redis);
  const items = ((await claim.exec(
    [keys.queue, keys.claims, claimed, keys.legacy],
    [
      String(max),
      drainer,
      String(Date.now()),
      String(config.RELAY_OUTBOX_CLAIM_STALE_MS),
      keys.claimedPrefix,
    ],
  )) ?? []) as string[];
  const finish = (how: "done" | "release") => async () => {
    await settle.exec([keys.queue, keys.claims, claimed], [drainer, how]);
  };
  return { items, done: finish("done"), release: finish("release") };
}

/** How many batches other drainers are writing right now. */
export async function claimsInFlight(redis: Redis, config: Config): Promise<number> {
  return Number(await redis.hlen(outboxKeys(config).claims));
}

export async function enqueue(redis: Redis, config: Config, items: string[]): Promise<void> {
  await redis.rpush(outboxKeys(config).queue, ...items);
}
