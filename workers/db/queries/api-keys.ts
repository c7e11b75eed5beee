import { and, desc, eq, isNull, sql } from "drizzle-orm";
import type { NewApiKey } from "../../auth/api-key";
import type { Caller } from "../../http/types";
import type { Database } from "../database";
import { apiKeys } from "../schema";
import { type AuditContext, recordAudit } from "./audit";

export interface ApiKeyDescriptor {
  id: string;
  name: string;
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

function describe(row: typeof apiKeys.$inferSelect): ApiKeyDescriptor {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    createdAt: row.createdAt.toISOString(),
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
    revokedAt: row.revokedAt?.toISOString() ?? null,
  };
}

export async function findCallerByKeyHash(db: Database, hashedSecret: string): Promise<Caller | null> {
  const [row] = await db
    .select({ keyId: apiKeys.id, tenantId: apiKeys.tenantId })
    .from(apiKeys)
    .where(and(eq(apiKeys.hashedSecret, hashedSecret), isNull(apiKeys.revokedAt)))
    .limit(1);
  return row ?? null;
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
): Promise<ApiKeyDescriptor> {
  return db.transaction(async (tx) => {
    const [row] = await tx
      .insert(apiKeys)
      .values({ tenantId, name, prefix: key.prefix, hashedSecret: key.hashedSecret })
      .returning();
    if (!row) throw new Error("insert returned no row");
    await recordAudit(tx, audit, {
      tenantId,
      action: "api_key.created",
      targetType: "api_key",
      targetId: row.id,
      metadata: { name, prefix: row.prefix },
    });
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
