import { z } from "zod";
import { errors } from "../../common/errors";

/** Bindings the Worker reads. Every value is a string: Worker vars and secrets are strings. */
export interface Env {
  DATABASE_URL?: string;
  RELAY_DB_WS_PROXY?: string;
  RELAY_MASTER_KEY?: string;
  RELAY_MASTER_KEY_PREVIOUS?: string;
  RELAY_ADMIN_TOKEN?: string;
  RELAY_INTERNAL_SECRET?: string;
  SIDECAR_URL?: string;
  UPSTASH_REDIS_REST_URL?: string;
  UPSTASH_REDIS_REST_TOKEN?: string;
  RELAY_ALLOW_PRIVATE_UPSTREAMS?: string;
  RELAY_KEY_CACHE_TTL_MS?: string;
  MAX_REQUEST_BODY_BYTES?: string;
}

const flag = z
  .enum(["true", "false", "1", "0", ""])
  .optional()
  .transform((v) => v === "true" || v === "1");

const int = (def: number, min: number, max: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === "") return def;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: "custom", message: `must be an integer between ${min} and ${max}` });
        return z.NEVER;
      }
      return n;
    });

const optionalText = z
  .string()
  .optional()
  .transform((v) => (v ? v : undefined));

const optionalUrl = (protocols: string[]) =>
  optionalText.refine(
    (v) => {
      if (v === undefined) return true;
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    `must be a URL (${protocols.join(" or ")})`,
  );

const schema = z.object({
  DATABASE_URL: optionalUrl(["postgres:", "postgresql:"]),
  RELAY_DB_WS_PROXY: optionalUrl(["ws:", "wss:"]),
  RELAY_MASTER_KEY: optionalText,
  RELAY_MASTER_KEY_PREVIOUS: optionalText,
  RELAY_ADMIN_TOKEN: optionalText.refine(
    (v) => v === undefined || v.length >= 16,
    "must be at least 16 characters",
  ),
  RELAY_INTERNAL_SECRET: optionalText,
  SIDECAR_URL: optionalUrl(["http:", "https:"]),
  UPSTASH_REDIS_REST_URL: optionalUrl(["http:", "https:"]),
  UPSTASH_REDIS_REST_TOKEN: optionalText,
  RELAY_ALLOW_PRIVATE_UPSTREAMS: flag,
  RELAY_KEY_CACHE_TTL_MS: int(5000, 0, 10_000),
  MAX_REQUEST_BODY_BYTES: int(1_048_576, 1024, 100 * 1_048_576),
});

export type Config = z.output<typeof schema>;

// Bindings are fixed for the life of an isolate, so parse them once per env object.
const parsed = new WeakMap<object, Config>();

/**
 * Validates the bindings. A malformed value is a configuration error naming the variable
 * (never its value, which may be a secret).
 */
export function loadConfig(env: Env): Config {
  const hit = parsed.get(env);
  if (hit) return hit;
  const result = schema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join(".")} ${i.message}`).join("; ");
    throw errors.misconfigured(`Invalid configuration: ${problems}`);
  }
  parsed.set(env, result.data);
  return result.data;
}

/** A required setting that is missing is a clear error at the first request that needs it. */
export function required<K extends keyof Config>(config: Config, name: K): NonNullable<Config[K]> {
  const value = config[name];
  if (value === undefined || value === null || value === "") {
    throw errors.misconfigured(`${String(name)} is not set; see the configuration table in the README`);
  }
  return value as NonNullable<Config[K]>;
}
