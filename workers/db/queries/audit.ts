import { and, desc, eq, lt, sql } from "drizzle-orm";
import type { Database } from "../database";
import { auditEvents } from "../schema";
import { storable } from "../storable";

export interface AuditContext {
  actor: string;
  requestId?: string | null;
  ipAddress?: string | null;
  userAgent?: string | null;
}

export interface AuditRecord {
  tenantId: string;
  action: string;
  targetType: string;
  targetId: string;
  metadata?: Record<string, unknown>;
}

/** Written in the same transaction as the change it describes, so neither exists without the other. */
export async function recordAudit(db: Database, ctx: AuditContext, record: AuditRecord): Promise<void> {
  // A NUL anywhere would fail the statement, and with it the change this record describes.
  await db.insert(auditEvents).values(
    storable({
      ...record,
      metadata: record.metadata ?? {},
      actor: ctx.actor,
      requestId: ctx.requestId ?? null,
      ipAddress: ctx.ipAddress ?? null,
      userAgent: ctx.userAgent ?? null,
    }),
  );
}

/** Where the previous page ended: its last event's time (to the microsecond) and id. */
export interface AuditCursor {
  at: string;
  id: string;
}

const CURSOR = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z)~([0-9a-f-]{36})$/;

export function parseAuditCursor(value: string): AuditCursor | null {
  const m = CURSOR.exec(value);
  return m ? { at: m[1] as string, id: m[2] as string } : null;
}

/**
 * A page of the tenant's events, newest first. Events written in one transaction share a timestamp,
 * so pages continue from (time, id), at the database's full precision, and none is skipped.
 */
export async function listAudit(
  db: Database,
  tenantId: string,
  opts: { action?: string; limit: number; before?: Date; cursor?: AuditCursor },
) {
  const rows = await db
    .select({
      row: auditEvents,
      at: sql<string>`to_char(${auditEvents.createdAt} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
    })
    .from(auditEvents)
    .where(
      and(
        eq(auditEvents.tenantId, tenantId),
        opts.action ? eq(auditEvents.action, opts.action) : undefined,
        opts.before ? lt(auditEvents.createdAt, opts.before) : undefined,
        opts.cursor
          ? sql`(${auditEvents.createdAt}, ${auditEvents.id}) < (${opts.cursor.at}::timestamptz, ${opts.cursor.id}::uuid)`
          : undefined,
      ),
    )
    .orderBy(desc(auditEvents.createdAt), desc(auditEvents.id))
    .limit(opts.limit + 1);
  const page = rows.slice(0, opts.limit);
  const last = page.at(-1);
  return {
    events: page.map(({ row: r }) => ({
      id: r.id,
      actor: r.actor,
      action: r.action,
      targetType: r.targetType,
      targetId: r.targetId,
      metadata: r.metadata,
      requestId: r.requestId,
      ipAddress: r.ipAddress,
      userAgent: r.userAgent,
      createdAt: r.createdAt.toISOString(),
    })),
    nextCursor: rows.length > opts.limit && last ? `${last.at}~${last.row.id}` : null,
  };
}
