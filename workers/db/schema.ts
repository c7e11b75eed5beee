import { sql } from "drizzle-orm";
import {
  boolean,
  customType,
  doublePrecision,
  index,
  integer,
  json,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uuid,
} from "drizzle-orm/pg-core";

// bytea in and out as Uint8Array on every driver (pg and Neon return Buffers, PGlite Uint8Arrays).
const bytea = customType<{ data: Uint8Array<ArrayBuffer>; driverData: Uint8Array | string }>({
  dataType: () => "bytea",
  toDriver: (value) => `\\x${Array.from(value, (b) => b.toString(16).padStart(2, "0")).join("")}`,
  fromDriver: (value) => {
    if (typeof value === "string") {
      const hex = value.startsWith("\\x") ? value.slice(2) : value;
      return Uint8Array.from(hex.match(/../g) ?? [], (h) => Number.parseInt(h, 16));
    }
    return Uint8Array.from(value);
  },
});

const createdAt = () => timestamp("created_at", { withTimezone: true }).notNull().defaultNow();

export const tenants = pgTable("tenants", {
  id: uuid("id").primaryKey().defaultRandom(),
  name: text("name").notNull().unique(),
  /** The operator's ceilings for every key of the tenant (a `KeyPolicy`'s limit fields). */
  limits: jsonb("limits").$type<Record<string, unknown>>().notNull().default(sql`'{}'::jsonb`),
  createdAt: createdAt(),
});

export const apiKeys = pgTable(
  "api_keys",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    prefix: text("prefix").notNull(),
    // SHA-256 (hex) of the whole secret; the secret itself is never stored.
    hashedSecret: text("hashed_secret").notNull().unique(),
    /** The key's own policy (limits, allowed models, expiry), as `KeyPolicy` stores it. */
    policy: jsonb("policy").$type<Record<string, unknown>>().notNull().default(sql`'{}'::jsonb`),
    createdAt: createdAt(),
    lastUsedAt: timestamp("last_used_at", { withTimezone: true }),
    revokedAt: timestamp("revoked_at", { withTimezone: true }),
  },
  (t) => [index("api_keys_tenant_idx").on(t.tenantId, t.createdAt)],
);

export const providerCredentials = pgTable(
  "provider_credentials",
  {
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    provider: text("provider", { enum: ["anthropic", "openai", "openai_compatible"] }).notNull(),
    label: text("label"),
    baseUrl: text("base_url"),
    // AES-256-GCM, with tenant and name bound as additional authenticated data.
    ciphertext: bytea("ciphertext").notNull(),
    iv: bytea("iv").notNull(),
    authTag: bytea("auth_tag").notNull(),
    createdAt: createdAt(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.name] })],
);

export const auditEvents = pgTable(
  "audit_events",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    // "api_key:<id>", "admin", "bootstrap" or "system".
    actor: text("actor").notNull(),
    action: text("action").notNull(),
    targetType: text("target_type").notNull(),
    targetId: text("target_id").notNull(),
    metadata: jsonb("metadata").$type<Record<string, unknown>>().notNull().default(sql`'{}'::jsonb`),
    requestId: text("request_id"),
    ipAddress: text("ip_address"),
    userAgent: text("user_agent"),
    createdAt: createdAt(),
  },
  (t) => [index("audit_events_tenant_idx").on(t.tenantId, t.createdAt)],
);

/** One row per proxied request. The id is minted once per request, so a retried write cannot count twice. */
export const usageEvents = pgTable(
  "usage_events",
  {
    id: uuid("id").primaryKey(),
    requestId: text("request_id").notNull(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    keyId: uuid("key_id"),
    /** The agent run this model call belonged to. */
    runId: uuid("run_id"),
    endpoint: text("endpoint").notNull(),
    provider: text("provider"),
    model: text("model"),
    requestedModel: text("requested_model"),
    status: integer("status").notNull(),
    errorCode: text("error_code"),
    stream: boolean("stream").notNull().default(false),
    inputTokens: integer("input_tokens").notNull().default(0),
    outputTokens: integer("output_tokens").notNull().default(0),
    cachedTokens: integer("cached_tokens").notNull().default(0),
    // USD; null when the model has no price in the table.
    costUsd: doublePrecision("cost_usd"),
    latencyMs: integer("latency_ms").notNull(),
    ttfbMs: integer("ttfb_ms"),
    attempts: integer("attempts").notNull().default(1),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull(),
  },
  (t) => [
    index("usage_events_tenant_time_idx").on(t.tenantId, t.createdAt),
    index("usage_events_run_idx").on(t.runId),
    // A key's spend since the start of the day or month, when its budget counters are rebuilt.
    index("usage_events_key_time_idx").on(t.keyId, t.createdAt),
  ],
);

/**
 * Every verified LiveKit webhook delivery, once: LiveKit delivers at least once, and the event id
 * makes a replay a no-op. Minutes are derived from these rows (their own timestamps), so events
 * arriving late or out of order still count right. tenant_id is null for rooms relay did not name.
 */
export const livekitEvents = pgTable(
  "livekit_events",
  {
    id: text("id").primaryKey(),
    tenantId: uuid("tenant_id").references(() => tenants.id, { onDelete: "cascade" }),
    event: text("event").notNull(),
    room: text("room"),
    roomSid: text("room_sid"),
    participantSid: text("participant_sid"),
    participantIdentity: text("participant_identity"),
    /** When the participant joined, per LiveKit (lets a `left` without its `joined` still count). */
    participantJoinedAt: timestamp("participant_joined_at", { withTimezone: true }),
    trackSid: text("track_sid"),
    egressId: text("egress_id"),
    ingressId: text("ingress_id"),
    occurredAt: timestamp("occurred_at", { withTimezone: true }).notNull(),
    receivedAt: timestamp("received_at", { withTimezone: true }).notNull().defaultNow(),
    payload: jsonb("payload").$type<Record<string, unknown>>().notNull(),
  },
  (t) => [
    index("livekit_events_tenant_time_idx").on(t.tenantId, t.occurredAt),
    index("livekit_events_room_idx").on(t.roomSid),
  ],
);

/**
 * Agent runs. Written through the outbox like usage (workers/outbox), so a slow or failing
 * database delays a run's row but never loses it: the row is written when the run starts and
 * rewritten when it ends, and `updated_at` keeps a late-drained older version from winning.
 */
export const runs = pgTable(
  "runs",
  {
    id: uuid("id").primaryKey(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    keyId: uuid("key_id"),
    status: text("status", { enum: ["running", "completed", "failed", "canceled"] }).notNull(),
    model: text("model").notNull(),
    system: text("system"),
    input: jsonb("input").notNull(),
    /** The tools as the caller declared them (name, kind, description, schema). */
    tools: jsonb("tools").$type<unknown[]>().notNull().default(sql`'[]'::jsonb`),
    metadata: jsonb("metadata").$type<Record<string, string>>().notNull().default(sql`'{}'::jsonb`),
    output: text("output"),
    error: jsonb("error").$type<{ code: string; message: string } | null>(),
    iterations: integer("iterations").notNull().default(0),
    inputTokens: integer("input_tokens").notNull().default(0),
    outputTokens: integer("output_tokens").notNull().default(0),
    costUsd: doublePrecision("cost_usd"),
    parentRunId: uuid("parent_run_id"),
    workflowId: uuid("workflow_id").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull(),
    completedAt: timestamp("completed_at", { withTimezone: true }),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull(),
  },
  (t) => [
    index("runs_tenant_time_idx").on(t.tenantId, t.createdAt),
    index("runs_workflow_idx").on(t.tenantId, t.workflowId),
  ],
);

/**
 * What a run's client saw, replayable by SSE id. Not one row per token: consecutive tokens are one
 * row (seq = the first token's id; payload {text, parts} keeps each token's length, so a replay
 * after any Last-Event-ID gives back the very frames). `payload` is json, not jsonb: replays give
 * back the text that was sent, key order included.
 */
export const runEvents = pgTable(
  "run_events",
  {
    // No foreign key: events and their run reach Postgres through the outbox, and a retried batch
    // may bring events before the run's row.
    runId: uuid("run_id").notNull(),
    seq: integer("seq").notNull(),
    tenantId: uuid("tenant_id").notNull(),
    type: text("type").notNull(),
    payload: json("payload").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.seq] })],
);

/**
 * Web console sessions. The cookie holds a signed token naming only the row's id; the row says who
 * signed in (a tenant through one of its keys, or the operator) and lets sign-out revoke the
 * session everywhere at once. A tenant session also ends when its key is revoked or deleted.
 */
export const consoleSessions = pgTable(
  "console_sessions",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    kind: text("kind", { enum: ["tenant", "operator"] }).notNull(),
    tenantId: uuid("tenant_id").references(() => tenants.id, { onDelete: "cascade" }),
    keyId: uuid("key_id").references(() => apiKeys.id, { onDelete: "cascade" }),
    // Operator sessions: an HMAC of the admin token they were opened with (under a key derived from
    // the master key), so rotating RELAY_ADMIN_TOKEN ends them. Not the token, nor a plain hash of it.
    secretTag: text("secret_tag"),
    createdAt: createdAt(),
    // Absolute end, however active the session is; the cookie's own expiry is the idle timeout.
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    revokedAt: timestamp("revoked_at", { withTimezone: true }),
    ipAddress: text("ip_address"),
    userAgent: text("user_agent"),
  },
  (t) => [
    index("console_sessions_key_idx").on(t.keyId),
    index("console_sessions_expiry_idx").on(t.expiresAt),
  ],
);

/**
 * The operator's guardrail catalog: a deployment concern, not a tenant's. Built-in guardrails run
 * in the Worker (`pii-redact`, seeded by a migration); `http` ones are called at their endpoint
 * with a bearer token that is stored encrypted like credentials and never returned.
 */
export const guardrails = pgTable("guardrails", {
  name: text("name").primaryKey(),
  description: text("description").notNull().default(""),
  kind: text("kind", { enum: ["builtin", "http"] }).notNull(),
  modes: jsonb("modes").$type<("pre_call" | "post_call" | "during_call")[]>().notNull(),
  defaultOn: boolean("default_on").notNull().default(false),
  failurePolicy: text("failure_policy", { enum: ["fail_closed", "fail_open", "dry_run"] })
    .notNull()
    .default("fail_closed"),
  config: jsonb("config").$type<Record<string, unknown>>().notNull().default(sql`'{}'::jsonb`),
  configSchema: jsonb("config_schema").$type<Record<string, unknown>>(),
  enabled: boolean("enabled").notNull().default(true),
  endpointUrl: text("endpoint_url"),
  timeoutMs: integer("timeout_ms"),
  tokenCiphertext: bytea("token_ciphertext"),
  tokenIv: bytea("token_iv"),
  tokenAuthTag: bytea("token_auth_tag"),
  createdAt: createdAt(),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
});

/** One row per guardrail run: what it did, never what it saw (counts and categories only). */
export const guardrailExecutions = pgTable(
  "guardrail_executions",
  {
    id: uuid("id").primaryKey(),
    requestId: text("request_id").notNull(),
    tenantId: uuid("tenant_id").notNull(),
    keyId: uuid("key_id"),
    runId: uuid("run_id"),
    guardrail: text("guardrail").notNull(),
    mode: text("mode").notNull(),
    action: text("action").notNull(),
    failurePolicy: text("failure_policy").notNull(),
    latencyMs: integer("latency_ms").notNull(),
    reason: text("reason"),
    metadata: jsonb("metadata").$type<Record<string, unknown>>().notNull().default(sql`'{}'::jsonb`),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull(),
  },
  (t) => [
    index("guardrail_executions_time_idx").on(t.createdAt),
    index("guardrail_executions_tenant_idx").on(t.tenantId, t.createdAt),
  ],
);
