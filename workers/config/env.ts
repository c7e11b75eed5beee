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
  MAX_UPSTREAM_RESPONSE_BYTES?: string;
  REQUEST_TIMEOUT_SECONDS?: string;
  RELAY_FIRST_BYTE_TIMEOUT_SECONDS?: string;
  RELAY_MAX_RETRIES?: string;
  RELAY_RETRY_MAX_WAIT_MS?: string;
  RELAY_CREDENTIAL_CACHE_TTL_MS?: string;
  RELAY_UNKNOWN_FIELD_POLICY?: string;
  RELAY_STREAM_USAGE_CHUNK?: string;
  RELAY_CLOUD_MODELS?: string;
  RELAY_CLOUD_FALLBACK_URL?: string;
  RELAY_CLOUD_FALLBACK_API_KEY?: string;
  RELAY_MODEL_PRICES?: string;
  RELAY_ANTHROPIC_DEFAULT_MAX_TOKENS?: string;
  RELAY_ANTHROPIC_BASE_URL?: string;
  RELAY_OPENAI_BASE_URL?: string;
  LIVEKIT_URL?: string;
  LIVEKIT_API_KEY?: string;
  LIVEKIT_API_SECRET?: string;
  RELAY_LIVEKIT_TOKEN_TTL_SECONDS?: string;
  RELAY_LIVEKIT_MAX_TTL_SECONDS?: string;
  RELAY_LIVEKIT_ALLOW_ADMIN_GRANTS?: string;
  DEFAULT_MODEL?: string;
  DEFAULT_TEMPERATURE?: string;
  DEFAULT_TOP_P?: string;
  DEFAULT_TOP_K?: string;
  DEFAULT_MIN_P?: string;
  DEFAULT_PRESENCE_PENALTY?: string;
  DEFAULT_REPETITION_PENALTY?: string;
  RELAY_DATABASE_ID?: string;
  RELAY_OUTBOX_CLAIM_STALE_MS?: string;
  RELAY_RESPONSES_ITEM_TTL_SECONDS?: string;
  RELAY_TOOL_RESULT_TIMEOUT_MS?: string;
  RELAY_RUN_MAX_ITERATIONS?: string;
  RELAY_INSTANCE_ID?: string;
  RELAY_LIMITS_ON_REDIS_FAILURE?: string;
  RELAY_LIMITS_TIMEOUT_MS?: string;
  RELAY_LIMITS_DEFAULT_MAX_TOKENS?: string;
  RATE_LIMIT_AUTH_MAX?: string;
  RATE_LIMIT_AUTH_WINDOW_SECONDS?: string;
  /** Secrets named by RELAY_CLOUD_MODELS entries' auth_env. */
  [authEnv: string]: string | undefined;
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

const optionalNumber = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v.trim() === "") return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) {
      ctx.addIssue({ code: "custom", message: "must be a number" });
      return z.NEVER;
    }
    return n;
  });

/** A JSON value in a variable, validated by `inner`. */
const jsonOf = <T extends z.ZodType>(inner: T) =>
  z
    .string()
    .optional()
    .transform((v, ctx): z.output<T> | undefined => {
      if (v === undefined || v.trim() === "") return undefined;
      let value: unknown;
      try {
        value = JSON.parse(v);
      } catch {
        ctx.addIssue({ code: "custom", message: "must be JSON" });
        return z.NEVER;
      }
      const parsed = inner.safeParse(value);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        ctx.addIssue({ code: "custom", message: `${issue?.path.join(".") || "value"}: ${issue?.message}` });
        return z.NEVER;
      }
      return parsed.data;
    });

const cloudModel = z.object({
  base_url: z.url({ protocol: /^https?$/ }),
  auth_env: z
    .string()
    .regex(/^[A-Z_][A-Z0-9_]*$/, "must be an environment variable name")
    .optional(),
  ctx_size: z.number().int().positive().optional(),
});

const price = z.object({
  input: z.number().nonnegative(),
  output: z.number().nonnegative(),
  cached_input: z.number().nonnegative().optional(),
});

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
  MAX_UPSTREAM_RESPONSE_BYTES: int(16_777_216, 1024, 1024 * 1_048_576),
  REQUEST_TIMEOUT_SECONDS: int(600, 1, 3600),
  RELAY_FIRST_BYTE_TIMEOUT_SECONDS: int(120, 1, 3600),
  RELAY_MAX_RETRIES: int(2, 0, 10),
  RELAY_RETRY_MAX_WAIT_MS: int(10_000, 0, 120_000),
  RELAY_CREDENTIAL_CACHE_TTL_MS: int(30_000, 0, 300_000),
  RELAY_UNKNOWN_FIELD_POLICY: z
    .enum(["pass_through", "strip", "reject", ""])
    .optional()
    .transform((v) => (v ? v : "pass_through")),
  // The usage chunk relay asks OpenAI-compatible upstreams for when the client did not: removed
  // (the stream's bytes change, so relay's pump is on the client's path) or forwarded natively.
  RELAY_STREAM_USAGE_CHUNK: z
    .enum(["strip", "forward", ""])
    .optional()
    .transform((v) => (v ? v : "strip")),
  RELAY_CLOUD_MODELS: jsonOf(z.record(z.string().min(1), cloudModel)),
  RELAY_CLOUD_FALLBACK_URL: optionalUrl(["http:", "https:"]),
  RELAY_CLOUD_FALLBACK_API_KEY: optionalText,
  RELAY_MODEL_PRICES: jsonOf(z.record(z.string().min(1), price)),
  RELAY_ANTHROPIC_DEFAULT_MAX_TOKENS: int(4096, 1, 1_000_000),
  // Where Anthropic's and OpenAI's own APIs are for credentials without a baseUrl (egress proxies).
  RELAY_ANTHROPIC_BASE_URL: optionalUrl(["http:", "https:"]),
  RELAY_OPENAI_BASE_URL: optionalUrl(["http:", "https:"]),
  LIVEKIT_URL: optionalUrl(["wss:", "ws:", "https:", "http:"]),
  LIVEKIT_API_KEY: optionalText,
  LIVEKIT_API_SECRET: optionalText,
  RELAY_LIVEKIT_TOKEN_TTL_SECONDS: int(3600, 60, 86_400),
  RELAY_LIVEKIT_MAX_TTL_SECONDS: int(21_600, 60, 604_800),
  RELAY_LIVEKIT_ALLOW_ADMIN_GRANTS: flag,
  DEFAULT_MODEL: optionalText,
  DEFAULT_TEMPERATURE: optionalNumber,
  DEFAULT_TOP_P: optionalNumber,
  DEFAULT_TOP_K: optionalNumber,
  DEFAULT_MIN_P: optionalNumber,
  DEFAULT_PRESENCE_PENALTY: optionalNumber,
  DEFAULT_REPETITION_PENALTY: optionalNumber,
  // Names the database for what relay keeps beside it in Redis (the usage queue), so that several
  // deployments can share a Redis. Defaults to DATABASE_URL's host, port and database name;
  // `npm run dev` sets it for the embedded PGlite, whose port changes at every start.
  RELAY_DATABASE_ID: optionalText,
  // A drainer that claimed a batch of the outbox and has not settled it within this long is taken
  // for dead (a Worker killed mid-drain): the next drain puts its batch back on the queue. Longer
  // than any Postgres write of one batch; a batch written twice still counts once.
  RELAY_OUTBOX_CLAIM_STALE_MS: int(120_000, 1000, 3_600_000),
  // Agent runs: how long a run waits for the caller's tool result, and the most model calls a run
  // may make (a run asks for maxIterations, default 8, at most this).
  RELAY_TOOL_RESULT_TIMEOUT_MS: int(30_000, 1000, 3_600_000),
  RELAY_RUN_MAX_ITERATIONS: int(32, 1, 1000),
  // How long relay keeps the assistant message items of translated Responses (for item_reference).
  RELAY_RESPONSES_ITEM_TTL_SECONDS: int(86_400, 60, 30 * 86_400),
  // Set by `npm run dev` so it knows the /health that answers is its own Worker's.
  RELAY_INSTANCE_ID: optionalText,
  // Key limits while Redis cannot be reached: `open` serves (and logs, with a running count),
  // `closed` refuses with 503 limits_unavailable.
  RELAY_LIMITS_ON_REDIS_FAILURE: z
    .enum(["open", "closed", ""])
    .optional()
    .transform((v) => (v ? v : "open")),
  // How long a request waits for the limits check before Redis counts as unreachable.
  RELAY_LIMITS_TIMEOUT_MS: int(1000, 10, 30_000),
  // Output tokens reserved against tpm and budgets for a request that names no max_tokens.
  RELAY_LIMITS_DEFAULT_MAX_TOKENS: int(1024, 0, 1_000_000),
  // Failed authentications per client address and window before further attempts get 429 (0: off).
  RATE_LIMIT_AUTH_MAX: int(20, 0, 1_000_000),
  RATE_LIMIT_AUTH_WINDOW_SECONDS: int(60, 1, 86_400),
});

/**
 * Every setting the Worker reads, from the one schema: `npm run dev` forwards exactly these (and
 * the variables RELAY_CLOUD_MODELS names) to `wrangler dev`.
 */
export const WORKER_SETTINGS: readonly string[] = Object.keys(schema.shape);

/** The variables RELAY_CLOUD_MODELS entries name in `auth_env` (secrets the Worker reads too). */
export function cloudAuthEnvNames(config: Config): string[] {
  return [
    ...new Set(
      Object.values(config.RELAY_CLOUD_MODELS ?? {})
        .map((m) => m.auth_env)
        .filter((n): n is string => Boolean(n)),
    ),
  ];
}

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
    throw errors.misconfigured(`${String(name)} is not set; see docs/configuration.md`);
  }
  return value as NonNullable<Config[K]>;
}
