import { sql } from "drizzle-orm";
import {
  boolean,
  customType,
  doublePrecision,
  index,
  integer,
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
  (t) => [index("usage_events_tenant_time_idx").on(t.tenantId, t.createdAt)],
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
