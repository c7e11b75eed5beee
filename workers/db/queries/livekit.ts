import { and, eq, inArray, sql } from "drizzle-orm";
import type { Database } from "../database";
import { livekitEvents } from "../schema";

export type NewLivekitEvent = typeof livekitEvents.$inferInsert;

/** True when stored, false when this event id was already there (a redelivery). */
export async function insertLivekitEvent(db: Database, event: NewLivekitEvent): Promise<boolean> {
  const rows = await db
    .insert(livekitEvents)
    .values(event)
    .onConflictDoNothing()
    .returning({ id: livekitEvents.id });
  return rows.length > 0;
}

/**
 * The events of every room of the tenant that overlaps [from, to): rooms that started before `to`
 * and had not finished before `from`, so sessions spanning the range's edges still count.
 */
export async function livekitEventsOverlapping(db: Database, tenantId: string, from: Date, to: Date) {
  const rooms = db
    .select({ roomSid: livekitEvents.roomSid })
    .from(livekitEvents)
    .where(and(eq(livekitEvents.tenantId, tenantId), sql`${livekitEvents.roomSid} is not null`))
    .groupBy(livekitEvents.roomSid)
    .having(
      sql`min(${livekitEvents.occurredAt}) < ${to} and coalesce(max(${livekitEvents.occurredAt}) filter (where ${livekitEvents.event} = 'room_finished'), ${from}) >= ${from}`,
    );
  return db
    .select()
    .from(livekitEvents)
    .where(and(eq(livekitEvents.tenantId, tenantId), inArray(livekitEvents.roomSid, rooms)));
}

/** The events of the tenant's most recently active rooms. */
export async function recentLivekitRoomEvents(db: Database, tenantId: string, limit: number) {
  const recent = db
    .select({ roomSid: livekitEvents.roomSid })
    .from(livekitEvents)
    .where(and(eq(livekitEvents.tenantId, tenantId), sql`${livekitEvents.roomSid} is not null`))
    .groupBy(livekitEvents.roomSid)
    .orderBy(sql`max(${livekitEvents.occurredAt}) desc`)
    .limit(limit);
  return db
    .select()
    .from(livekitEvents)
    .where(and(eq(livekitEvents.tenantId, tenantId), inArray(livekitEvents.roomSid, recent)));
}
