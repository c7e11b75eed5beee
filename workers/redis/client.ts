import { Redis } from "@upstash/redis/cloudflare";
import type { Config } from "../config/env";

/** Null when no Redis is configured: callers say which feature that disables instead of crashing. */
export function redisFrom(config: Config, signal?: AbortSignal): Redis | null {
  if (!config.UPSTASH_REDIS_REST_URL || !config.UPSTASH_REDIS_REST_TOKEN) return null;
  return new Redis({
    url: config.UPSTASH_REDIS_REST_URL,
    token: config.UPSTASH_REDIS_REST_TOKEN,
    retry: false,
    enableTelemetry: false,
    // relay stores its own JSON; values come back as the strings that were written.
    automaticDeserialization: false,
    signal,
  });
}

export const REDIS_NOT_CONFIGURED =
  "Redis is not configured: set UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN (npm run dev does when REDIS_URL is set)";
