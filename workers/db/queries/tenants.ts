import { desc, eq, sql } from "drizzle-orm";
import { generateApiKey } from "../../auth/api-key";
import {
  type KeyPolicy,
  mergePolicy,
  type TenantLimits,
  type TenantLimitsInput,
  tenantLimits,
} from "../../limits/policy";
import type { Database } from "../database";
import { apiKeys, tenants } from "../schema";
import { type ApiKeyDescriptor, insertApiKey } from "./api-keys";
import { type AuditContext, recordAudit } from "./audit";

export interface TenantDescriptor {
  id: string;
  name: string;
  createdAt: string;
}

function describe(row: { id: string; name: string; createdAt: Date }): TenantDescriptor {
  return { id: row.id, name: row.name, createdAt: row.createdAt.toISOString() };
}

export async function findTenantByName(db: Database, name: string): Promise<TenantDescriptor | null> {
  const [row] = await db.select().from(tenants).where(eq(tenants.name, name)).limit(1);
  return row ? describe(row) : null;
}

/** Null when the name is taken. */
export async function createTenant(
  db: Database,
  audit: AuditContext,
  name: string,
): Promise<TenantDescriptor | null> {
  return db.transaction(async (tx) => {
    const [row] = await tx.insert(tenants).values({ name }).onConflictDoNothing().returning();
    if (!row) return null;
    await recordAudit(tx, audit, {
      tenantId: row.id,
      action: "tenant.created",
      targetType: "tenant",
      targetId: row.id,
      metadata: { name },
    });
    return describe(row);
  });
}

export async function listTenants(
  db: Database,
): Promise<(TenantDescriptor & { activeKeys: number; limits: TenantLimits })[]> {
  const rows = await db
    .select({
      id: tenants.id,
      name: tenants.name,
      createdAt: tenants.createdAt,
      limits: tenants.limits,
      activeKeys: sql<number>`(count(${apiKeys.id}) filter (where ${apiKeys.revokedAt} is null))::int`,
    })
    .from(tenants)
    .leftJoin(apiKeys, eq(apiKeys.tenantId, tenants.id))
    .groupBy(tenants.id)
    .orderBy(desc(tenants.createdAt));
  return rows.map((r) => ({
    ...describe(r),
    activeKeys: r.activeKeys,
    limits: tenantLimits.parse(r.limits),
  }));
}

/** The operator's ceilings for a tenant ({} when none, or when there is no such tenant). */
export async function findTenantLimits(db: Database, tenantId: string): Promise<TenantLimits> {
  const [row] = await db.select({ limits: tenants.limits }).from(tenants).where(eq(tenants.id, tenantId));
  return tenantLimits.parse(row?.limits ?? {});
}

/** Merges a patch into a tenant's ceilings, with an audit event. Null when there is no such tenant. */
export async function updateTenantLimits(
  db: Database,
  audit: AuditContext,
  tenantId: string,
  patch: TenantLimitsInput,
): Promise<(TenantDescriptor & { limits: TenantLimits }) | null> {
  return db.transaction(async (tx) => {
    const [current] = await tx.select().from(tenants).where(eq(tenants.id, tenantId)).for("update");
    if (!current) return null;
    const before = tenantLimits.parse(current.limits);
    const limits = tenantLimits.parse(mergePolicy(before, patch));
    await tx.update(tenants).set({ limits }).where(eq(tenants.id, tenantId));
    await recordAudit(tx, audit, {
      tenantId,
      action: "tenant.limits_updated",
      targetType: "tenant",
      targetId: tenantId,
      metadata: { changes: patch, before, after: limits },
    });
    return { ...describe(current), limits };
  });
}

/** Ids of the tenant's keys, revoked ones included. */
export async function tenantKeyIds(db: Database, tenantId: string): Promise<string[]> {
  const rows = await db.select({ id: apiKeys.id }).from(apiKeys).where(eq(apiKeys.tenantId, tenantId));
  return rows.map((r) => r.id);
}

export interface IssuedKey {
  apiKey: string;
  key: ApiKeyDescriptor;
}

/** Mints a key for a tenant; the secret is returned here and never again. */
export async function issueApiKey(
  db: Database,
  audit: AuditContext,
  tenantId: string,
  name: string,
  policy: KeyPolicy = {},
): Promise<IssuedKey> {
  const key = await generateApiKey();
  const descriptor = await insertApiKey(db, audit, tenantId, name, key, policy);
  return { apiKey: key.secret, key: descriptor };
}
