import { and, desc, eq, isNull, sql } from "drizzle-orm";
import type { NewApiKey } from "../../auth/api-key";
import type { Caller } from "../../http/types";
import {
  effectiveLimits,
  type KeyPolicy,
  type KeyPolicyInput,
  keyPolicy,
  mergePolicy,
  tenantLimits,
} from "../../limits/policy";
import type { Database } from "../database";
import { apiKeys, tenants } from "../schema";
import { type AuditContext, recordAudit } from "./audit";

export interface ApiKeyDescriptor {
  id: string;
  name: string;
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
  policy: KeyPolicy;
}

/** A stored policy, read with the schema of this version (a corrupt one fails the lookup, closed). */
export function storedPolicy(value: unknown): KeyPolicy {
  return keyPolicy.parse(value);
}

function describe(row: typeof apiKeys.$inferSelect): ApiKeyDescriptor {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    createdAt: row.createdAt.toISOString(),
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
    revokedAt: row.revokedAt?.toISOString() ?? null,
    policy: storedPolicy(row.policy),
  };
}

/** The caller a key hash stands for, with its policy and its tenant's ceilings already combined. */
export async function findCallerByKeyHash(db: Database, hashedSecret: string): Promise<Caller | null> {
  const [row] = await db
    .select({
      keyId: apiKeys.id,
      tenantId: apiKeys.tenantId,
      policy: apiKeys.policy,
      tenantLimits: tenants.limits,
    })
    .from(apiKeys)
    .innerJoin(tenants, eq(tenants.id, apiKeys.tenantId))
    .where(and(eq(apiKeys.hashedSecret, hashedSecret), isNull(apiKeys.revokedAt)))
    .limit(1);
  if (!row) return null;
  const policy = storedPolicy(row.policy);
  return {
    keyId: row.keyId,
    tenantId: row.tenantId,
    policy,
    limits: effectiveLimits(policy, tenantLimits.parse(row.tenantLimits)),
  };
}

export async function touchApiKey(db: Database, keyId: string): Promise<void> {
  await db.update(apiKeys).set({ lastUsedAt: sql`now()` }).where(eq(apiKeys.id, keyId));
}

export async function insertApiKey(
  db: Database,
  audit: AuditContext,
  tenantId: string,
  name: string,
  key: NewApiKey,
  policy: KeyPolicy = {},
): Promise<ApiKeyDescriptor> {
  return db.transaction(async (tx) => {
    const [row] = await tx
      .insert(apiKeys)
      .values({ tenantId, name, prefix: key.prefix, hashedSecret: key.hashedSecret, policy })
      .returning();
    if (!row) throw new Error("insert returned no row");
    await recordAudit(tx, audit, {
      tenantId,
      action: "api_key.created",
      targetType: "api_key",
      targetId: row.id,
      metadata: { name, prefix: row.prefix, policy },
    });
    return describe(row);
  });
}

/**
 * Renames a key of this tenant and/or merges a patch into its policy, with an audit event per
 * change. Null when the tenant has no such key.
 */
export async function updateApiKey(
  db: Database,
  audit: AuditContext,
  tenantId: string,
  keyId: string,
  change: { name?: string; policy?: KeyPolicyInput },
): Promise<ApiKeyDescriptor | null> {
  return db.transaction(async (tx) => {
    const [current] = await tx
      .select()
      .from(apiKeys)
      .where(and(eq(apiKeys.id, keyId), eq(apiKeys.tenantId, tenantId)))
      .for("update");
    if (!current) return null;
    const before = storedPolicy(current.policy);
    const policy = change.policy ? keyPolicy.parse(mergePolicy(before, change.policy)) : before;
    const name = change.name ?? current.name;
    const [row] = await tx
      .update(apiKeys)
      .set({ name, policy })
      .where(and(eq(apiKeys.id, keyId), eq(apiKeys.tenantId, tenantId)))
      .returning();
    if (!row) throw new Error("update returned no row");
    if (change.policy) {
      await recordAudit(tx, audit, {
        tenantId,
        action: "api_key.policy_updated",
        targetType: "api_key",
        targetId: keyId,
        metadata: { name, changes: change.policy, before, after: policy },
      });
    }
    if (name !== current.name) {
      await recordAudit(tx, audit, {
        tenantId,
        action: "api_key.renamed",
        targetType: "api_key",
        targetId: keyId,
        metadata: { from: current.name, to: name },
      });
    }
    return describe(row);
  });
}

export async function listApiKeys(db: Database, tenantId: string): Promise<ApiKeyDescriptor[]> {
  const rows = await db
    .select()
    .from(apiKeys)
    .where(eq(apiKeys.tenantId, tenantId))
    .orderBy(desc(apiKeys.createdAt), desc(apiKeys.id));
  return rows.map(describe);
}

/** Revokes a key of this tenant. Null when the tenant has no such key; idempotent otherwise. */
export async function revokeApiKey(
  db: Database,
  audit: AuditContext,
  tenantId: string,
  keyId: string,
): Promise<ApiKeyDescriptor | null> {
  return db.transaction(async (tx) => {
    const [revoked] = await tx
      .update(apiKeys)
      .set({ revokedAt: sql`now()` })
      .where(and(eq(apiKeys.id, keyId), eq(apiKeys.tenantId, tenantId), isNull(apiKeys.revokedAt)))
      .returning();
    if (revoked) {
      await recordAudit(tx, audit, {
        tenantId,
        action: "api_key.revoked",
        targetType: "api_key",
        targetId: keyId,
        metadata: { name: revoked.name, prefix: revoked.prefix },
      });
      return describe(revoked);
    }
    const [existing] = await tx
      .select()
      .from(apiKeys)
      .where(and(eq(apiKeys.id, keyId), eq(apiKeys.tenantId, tenantId)));
    return existing ? describe(existing) : null;
  });
}
