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

export const REDIS_NOT_CONFIGURED =
  "Redis is not configured: set UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN (npm run dev does when REDIS_URL is set)";
