import { and, eq, isNull, lt, sql } from "drizzle-orm";
import type { Database } from "../database";
import { apiKeys, consoleSessions, tenants } from "../schema";
import { type AuditContext, recordAudit } from "./audit";

export type SessionKind = (typeof consoleSessions.$inferSelect)["kind"];

export interface NewSession {
  kind: SessionKind;
  tenantId: string | null;
  keyId: string | null;
  secretTag: string | null;
  expiresAt: Date;
}

/** What a request needs to know about its session, read in one query. */
export interface SessionRecord {
  id: string;
  kind: SessionKind;
  tenantId: string | null;
  tenantName: string | null;
  keyId: string | null;
  keyPrefix: string | null;
  /** The hash the key is looked up by: the session asks the isolate key cache whether it still works. */
  keyHash: string | null;
  keyRevoked: boolean;
  secretTag: string | null;
  expiresAt: Date;
  revoked: boolean;
}

export async function createSession(db: Database, audit: AuditContext, input: NewSession): Promise<string> {
  return db.transaction(async (tx) => {
    const [row] = await tx
      .insert(consoleSessions)
      .values({ ...input, ipAddress: audit.ipAddress ?? null, userAgent: audit.userAgent ?? null })
      .returning({ id: consoleSessions.id });
    if (!row) throw new Error("insert returned no row");
    if (input.tenantId) {
      await recordAudit(tx, audit, {
        tenantId: input.tenantId,
        action: "console.signed_in",
        targetType: "console_session",
        targetId: row.id,
        metadata: { keyId: input.keyId },
      });
    }
    return row.id;
  });
}

export async function findSession(db: Database, id: string): Promise<SessionRecord | null> {
  const [row] = await db
    .select({
      id: consoleSessions.id,
      kind: consoleSessions.kind,
      tenantId: consoleSessions.tenantId,
      tenantName: tenants.name,
      keyId: consoleSessions.keyId,
      keyPrefix: apiKeys.prefix,
      keyHash: apiKeys.hashedSecret,
      keyRevokedAt: apiKeys.revokedAt,
      secretTag: consoleSessions.secretTag,
      expiresAt: consoleSessions.expiresAt,
      revokedAt: consoleSessions.revokedAt,
    })
    .from(consoleSessions)
    .leftJoin(tenants, eq(tenants.id, consoleSessions.tenantId))
    .leftJoin(
      apiKeys,
      and(eq(apiKeys.id, consoleSessions.keyId), eq(apiKeys.tenantId, consoleSessions.tenantId)),
    )
    .where(eq(consoleSessions.id, id))
    .limit(1);
  if (!row) return null;
  const { keyRevokedAt, revokedAt, ...rest } = row;
  return { ...rest, keyRevoked: keyRevokedAt !== null, revoked: revokedAt !== null };
}

/** Revokes a session; true when it was live. */
export async function revokeSession(db: Database, audit: AuditContext, id: string): Promise<boolean> {
  return db.transaction(async (tx) => {
    const [row] = await tx
      .update(consoleSessions)
      .set({ revokedAt: sql`now()` })
      .where(and(eq(consoleSessions.id, id), isNull(consoleSessions.revokedAt)))
      .returning({ tenantId: consoleSessions.tenantId });
    if (!row) return false;
    if (row.tenantId) {
      await recordAudit(tx, audit, {
        tenantId: row.tenantId,
        action: "console.signed_out",
        targetType: "console_session",
        targetId: id,
      });
    }
    return true;
  });
}

/** Rows of sessions that ended over a day ago are of no further use. */
export async function purgeEndedSessions(db: Database): Promise<void> {
  await db.delete(consoleSessions).where(lt(consoleSessions.expiresAt, sql`now() - interval '1 day'`));
}
