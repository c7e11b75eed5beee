import { and, asc, eq } from "drizzle-orm";
import { credentialAad, type MasterKeys, open, seal } from "../../credentials/crypto";
import type { Database } from "../database";
import { providerCredentials } from "../schema";
import { type AuditContext, recordAudit } from "./audit";

export type ProviderKind = (typeof providerCredentials.$inferSelect)["provider"];

export interface CredentialDescriptor {
  name: string;
  provider: ProviderKind;
  label: string | null;
  baseUrl: string | null;
  /** False for a keyless endpoint (a local server that needs no key). */
  hasApiKey: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface CredentialInput {
  name: string;
  provider: ProviderKind;
  /** Empty for a keyless endpoint. */
  apiKey: string;
  baseUrl: string | null;
  label: string | null;
}

function describe(row: typeof providerCredentials.$inferSelect): CredentialDescriptor {
  return {
    name: row.name,
    provider: row.provider,
    label: row.label,
    baseUrl: row.baseUrl,
    // AES-GCM ciphertext is as long as the plaintext (the tag is stored apart): no decryption needed.
    hasApiKey: row.ciphertext.length > 0,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** Creates or overwrites (rotates) a credential. */
export async function putCredential(
  db: Database,
  audit: AuditContext,
  tenantId: string,
  keys: MasterKeys,
  input: CredentialInput,
): Promise<{ credential: CredentialDescriptor; created: boolean }> {
  const sealed = await seal(keys.current, input.apiKey, credentialAad(tenantId, input.name));
  return db.transaction(async (tx) => {
    const [existing] = await tx
      .select({ name: providerCredentials.name })
      .from(providerCredentials)
      .where(and(eq(providerCredentials.tenantId, tenantId), eq(providerCredentials.name, input.name)))
      .for("update");
    const now = new Date();
    const values = {
      provider: input.provider,
      label: input.label,
      baseUrl: input.baseUrl,
      ...sealed,
      updatedAt: now,
    };
    const [row] = await tx
      .insert(providerCredentials)
      .values({ tenantId, name: input.name, ...values, createdAt: now })
      .onConflictDoUpdate({ target: [providerCredentials.tenantId, providerCredentials.name], set: values })
      .returning();
    if (!row) throw new Error("upsert returned no row");
    const created = !existing;
    await recordAudit(tx, audit, {
      tenantId,
      action: created ? "credential.created" : "credential.updated",
      targetType: "credential",
      targetId: input.name,
      metadata: { provider: input.provider, baseUrl: input.baseUrl, label: input.label },
    });
    return { credential: describe(row), created };
  });
}

export async function listCredentials(db: Database, tenantId: string): Promise<CredentialDescriptor[]> {
  const rows = await db
    .select()
    .from(providerCredentials)
    .where(eq(providerCredentials.tenantId, tenantId))
    .orderBy(asc(providerCredentials.name));
  return rows.map(describe);
}

export async function deleteCredential(
  db: Database,
  audit: AuditContext,
  tenantId: string,
  name: string,
): Promise<boolean> {
  return db.transaction(async (tx) => {
    const [row] = await tx
      .delete(providerCredentials)
      .where(and(eq(providerCredentials.tenantId, tenantId), eq(providerCredentials.name, name)))
      .returning({ provider: providerCredentials.provider });
    if (!row) return false;
    await recordAudit(tx, audit, {
      tenantId,
      action: "credential.deleted",
      targetType: "credential",
      targetId: name,
      metadata: { provider: row.provider },
    });
    return true;
  });
}

export interface DecryptedCredential extends CredentialDescriptor {
  apiKey: string;
}

export type SealedCredential = typeof providerCredentials.$inferSelect;

/** Every credential row of a tenant, still sealed (the routing cache decrypts on use). */
export async function listSealedCredentials(db: Database, tenantId: string): Promise<SealedCredential[]> {
  return db.select().from(providerCredentials).where(eq(providerCredentials.tenantId, tenantId));
}

export async function decryptCredential(
  row: SealedCredential,
  keys: MasterKeys,
): Promise<DecryptedCredential> {
  const { plaintext } = await open(keys, row, credentialAad(row.tenantId, row.name));
  return { ...describe(row), apiKey: plaintext };
}

/**
 * One credential, read and decrypted (tools and tests; request routing goes through the isolate
 * cache, which decrypts with decryptCredential). Callers keep the plaintext out of logs and responses.
 */
export async function loadCredential(
  db: Database,
  tenantId: string,
  name: string,
  keys: MasterKeys,
): Promise<DecryptedCredential | null> {
  const [row] = await db
    .select()
    .from(providerCredentials)
    .where(and(eq(providerCredentials.tenantId, tenantId), eq(providerCredentials.name, name)))
    .limit(1);
  return row ? decryptCredential(row, keys) : null;
}

/**
 * Re-seals every credential under the current key (run by `npm run rotate-master-key`).
 * Rows that open under neither key are reported, never overwritten.
 */
export async function resealAllCredentials(
  db: Database,
  keys: MasterKeys,
): Promise<{ resealed: number; failed: { tenantId: string; name: string }[]; tenants: Set<string> }> {
  const rows = await db.select().from(providerCredentials);
  const failed: { tenantId: string; name: string }[] = [];
  const tenants = new Set<string>();
  let resealed = 0;
  for (const row of rows) {
    const aad = credentialAad(row.tenantId, row.name);
    let plaintext: string;
    try {
      plaintext = (await open(keys, row, aad)).plaintext;
    } catch {
      failed.push({ tenantId: row.tenantId, name: row.name });
      continue;
    }
    const sealed = await seal(keys.current, plaintext, aad);
    await db
      .update(providerCredentials)
      .set(sealed)
      .where(and(eq(providerCredentials.tenantId, row.tenantId), eq(providerCredentials.name, row.name)));
    tenants.add(row.tenantId);
    resealed++;
  }
  return { resealed, failed, tenants };
}
