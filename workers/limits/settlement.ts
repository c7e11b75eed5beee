import type { Redis } from "@upstash/redis/cloudflare";
import { toHex, utf8 } from "../../common/bytes";
import type { Config } from "../config/env";
import { answerWithin, scriptFor } from "../redis/client";
import { SETTLE, SETTLE_ARGS } from "./scripts";

/** Settlements of one key and period waiting to be sent: the SETTLE script's keys, and its args. */
interface Group {
  keys: string[];
  args: string[];
}

// Settlements not yet sent, per Redis client and key. Module state is per isolate; plain data only.
const pending = new Map<Redis, Map<string, Group>>();
const FLUSH_DELAY_MS = 50;
/** Settlements one admission carries at most (they are arguments of its script call). */
const MAX_CARRIED = 100;

export function warnSettlement(err: unknown, count: number): void {
  console.warn(
    JSON.stringify({
      level: "warn",
      msg: "limits settlement failed",
      settlements: count,
      error: err instanceof Error ? err.message : String(err),
    }),
  );
}

const groupName = (keys: string[]) => keys.join("\u0000");

/**
 * The settlements waiting for this key and period (`keys`: tokens, in-flight, day, month): the
 * next admission of that key carries them in its own script call, so a busy key costs one Redis
 * round trip per request in all.
 */
export function takeSettlements(redis: Redis, keys: string[]): string[] {
  const groups = pending.get(redis);
  const name = groupName(keys);
  const group = groups?.get(name);
  if (!groups || !group) return [];
  groups.delete(name);
  // Emptied: its flush timer has nothing left to send, and the next settlement starts a new one.
  if (groups.size === 0) pending.delete(redis);
  return group.args;
}

/**
 * Queues a settlement (SETTLE_ARGS arguments) for the next admission of the same key to carry.
 * When none comes within 50 ms, the request that queued first in this isolate sends everything
 * still waiting, one SETTLE call per key in one pipeline, kept alive by its waitUntil. Never on
 * the request path. What a settlement that never lands held is released by expiry; its spend is
 * in its usage event.
 */
export function queueSettlement(
  config: Config,
  redis: Redis,
  keys: string[],
  args: string[],
  waitUntil: (task: Promise<unknown>) => void,
): void {
  let groups = pending.get(redis);
  const owner = !groups;
  if (!groups) {
    groups = new Map();
    pending.set(redis, groups);
  }
  const name = groupName(keys);
  const group = groups.get(name);
  if (group) group.args.push(...args);
  else groups.set(name, { keys, args: [...args] });
  if (group && group.args.length >= MAX_CARRIED * args.length) {
    groups.delete(name);
    if (groups.size === 0) pending.delete(redis);
    waitUntil(send(redis, config, [group]));
  }
  if (!owner) return;
  const mine = groups;
  waitUntil(
    new Promise((r) => setTimeout(r, FLUSH_DELAY_MS)).then(() => {
      // Carried off by admissions meanwhile: younger settlements belong to a later timer.
      if (pending.get(redis) !== mine) return;
      pending.delete(redis);
      return send(redis, config, [...mine.values()]);
    }),
  );
}

async function send(redis: Redis, config: Config, groups: Group[]): Promise<void> {
  const script = scriptFor(redis, SETTLE);
  try {
    if (groups.length === 1) {
      const [g] = groups as [Group];
      await answerWithin(script.exec(g.keys, g.args), config.RELAY_LIMITS_TIMEOUT_MS);
      return;
    }
    const pipe = redis.pipeline();
    const sha = await scriptSha();
    for (const g of groups) pipe.evalsha(sha, g.keys, g.args);
    const results = (await answerWithin(pipe.exec({ keepErrors: true }), config.RELAY_LIMITS_TIMEOUT_MS)) as {
      error?: string;
    }[];
    // Redis lost its scripts (a restart): EVAL loads SETTLE again.
    for (const [i, r] of results.entries()) {
      const g = groups[i];
      if (!r.error || !g) continue;
      if (r.error.toUpperCase().includes("NOSCRIPT"))
        await answerWithin(script.exec(g.keys, g.args), config.RELAY_LIMITS_TIMEOUT_MS);
      else warnSettlement(r.error, g.args.length / SETTLE_ARGS);
    }
  } catch (err) {
    warnSettlement(
      err,
      groups.reduce((n, g) => n + g.args.length / SETTLE_ARGS, 0),
    );
  }
}

let settleSha: Promise<string> | undefined;
/** SETTLE's SHA-1, as EVALSHA names it; once per isolate. */
function scriptSha(): Promise<string> {
  settleSha ??= crypto.subtle.digest("SHA-1", utf8(SETTLE)).then((d) => toHex(new Uint8Array(d)));
  return settleSha;
}
