import { Redis } from "@upstash/redis/cloudflare";
import type { Config } from "../config/env";

let shared: { key: string; client: Redis } | undefined;

/**
 * Null when no Redis is configured: callers say which feature that disables instead of crashing.
 * Without a signal the client is built once per isolate: constructing one is far from free.
 */
export function redisFrom(config: Config, signal?: AbortSignal): Redis | null {
  const url = config.UPSTASH_REDIS_REST_URL;
  const token = config.UPSTASH_REDIS_REST_TOKEN;
  if (!url || !token) return null;
  const key = `${url}\u0000${token}`;
  if (!signal && shared?.key === key) return shared.client;
  const client = new Redis({
    url,
    token,
    retry: false,
    enableTelemetry: false,
    enableAutoPipelining: false,
    // relay stores its own JSON; values come back as the strings that were written.
    automaticDeserialization: false,
    signal,
  });
  if (!signal) shared = { key, client };
  return client;
}

type Script = ReturnType<Redis["createScript"]>;
const scripts = new WeakMap<Redis, Map<string, Script>>();

/**
 * A Lua script on this client, built once per isolate: `exec` sends EVALSHA, and EVAL (which
 * loads the script) only when Redis answers NOSCRIPT.
 */
export function scriptFor(redis: Redis, source: string): Script {
  let bySource = scripts.get(redis);
  if (!bySource) {
    bySource = new Map();
    scripts.set(redis, bySource);
  }
  let script = bySource.get(source);
  if (!script) {
    script = redis.createScript(source);
    bySource.set(source, script);
  }
  return script;
}

export const REDIS_NOT_CONFIGURED =
  "Redis is not configured: set UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN (npm run dev does when REDIS_URL is set)";

/**
 * `work`, or a rejection once `ms` have passed without an answer (the request itself is not
 * cancelled: the shared client has no per-call signal). A native timer signal, which costs less
 * than setTimeout under nodejs_compat.
 */
export function answerWithin<T>(work: Promise<T>, ms: number): Promise<T> {
  const signal = AbortSignal.timeout(ms);
  return new Promise<T>((resolve, reject) => {
    const onTimeout = () => reject(new Error(`Redis did not answer within ${ms} ms`));
    signal.addEventListener("abort", onTimeout, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener("abort", onTimeout);
        resolve(v);
      },
      (err) => {
        signal.removeEventListener("abort", onTimeout);
        reject(err);
      },
    );
  });
}
