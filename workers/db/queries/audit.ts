import { and, desc, eq, lt } from "drizzle-orm";
import type { Database } from "../database";
import { auditEvents } from "../schema";

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
  await db.insert(auditEvents).values({
    ...record,
    metadata: record.metadata ?? {},
    actor: ctx.actor,
    requestId: ctx.requestId ?? null,
    ipAddress: ctx.ipAddress ?? null,
    userAgent: ctx.userAgent ?? null,
  });
}

export async function listAudit(
  db: Database,
  tenantId: string,
  opts: { action?: string; limit: number; before?: Date },
) {
  const rows = await db
    .select()
    .from(auditEvents)
    .where(
      and(
        eq(auditEvents.tenantId, tenantId),
        opts.action ? eq(auditEvents.action, opts.action) : undefined,
        opts.before ? lt(auditEvents.createdAt, opts.before) : undefined,
      ),
    )
    .orderBy(desc(auditEvents.createdAt))
    .limit(opts.limit);
  return rows.map((r) => ({
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
  }));
}
