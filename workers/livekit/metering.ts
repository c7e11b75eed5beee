import type { livekitEvents } from "../db/schema";

type Row = typeof livekitEvents.$inferSelect;

export interface Tally {
  room_minutes: number;
  participant_minutes: number;
  egress_minutes: number;
  ingress_minutes: number;
  rooms: number;
  participants: number;
  tracks_published: number;
}

export const emptyTally = (): Tally => ({
  room_minutes: 0,
  participant_minutes: 0,
  egress_minutes: 0,
  ingress_minutes: 0,
  rooms: 0,
  participants: 0,
  tracks_published: 0,
});

interface Interval {
  start: number;
  end: number | null;
}

const DAY = 86_400_000;
const dayOf = (t: number) => new Date(t).toISOString().slice(0, 10);

/** Adds an interval's minutes to the days it covers, clipped to [from, to). */
function addMinutes(
  days: Map<string, Tally>,
  key: keyof Tally,
  iv: Interval,
  from: number,
  to: number,
): void {
  if (iv.end === null) return; // still open: counted once it closes
  let start = Math.max(iv.start, from);
  const end = Math.min(iv.end, to);
  while (start < end) {
    const midnight = (Math.floor(start / DAY) + 1) * DAY;
    const sliceEnd = Math.min(end, midnight);
    const day = days.get(dayOf(start)) ?? emptyTally();
    day[key] += (sliceEnd - start) / 60_000;
    days.set(dayOf(start), day);
    start = sliceEnd;
  }
}

export interface RoomSummary {
  room: string;
  roomSid: string;
  startedAt: string | null;
  finishedAt: string | null;
  minutes: number;
  participants: { identity: string; joinedAt: string; leftAt: string | null; minutes: number }[];
}

/**
 * Intervals from a tenant's events, whatever order they arrived in: rooms from started to finished;
 * participants from joined (or the joinedAt LiveKit sends with a `left`) to left or aborted, or to
 * the room's end when that is all there is; egress and ingress from started to ended.
 */
export function intervals(events: Row[]) {
  const sorted = [...events].sort((a, b) => a.occurredAt.getTime() - b.occurredAt.getTime());
  const rooms = new Map<string, Interval & { room: string }>();
  const people = new Map<string, Interval & { roomSid: string; identity: string }>();
  const egress = new Map<string, Interval & { roomSid: string }>();
  const ingress = new Map<string, Interval & { roomSid: string }>();
  const t = (r: Row) => r.occurredAt.getTime();

  for (const e of sorted) {
    const sid = e.roomSid ?? "";
    if (e.event === "room_started" || e.event === "room_finished") {
      const room = rooms.get(sid) ?? { start: t(e), end: null, room: e.room ?? "" };
      if (e.event === "room_started") room.start = Math.min(room.start, t(e));
      else room.end = t(e);
      rooms.set(sid, room);
    } else if (
      e.participantSid &&
      ["participant_joined", "participant_left", "participant_connection_aborted"].includes(e.event)
    ) {
      const key = `${sid}\u0000${e.participantSid}`;
      const joinedAt = e.participantJoinedAt?.getTime();
      const p = people.get(key) ?? {
        start: joinedAt ?? t(e),
        end: null,
        roomSid: sid,
        identity: e.participantIdentity ?? "",
      };
      if (e.event === "participant_joined") p.start = Math.min(p.start, t(e));
      else {
        p.end = t(e);
        if (joinedAt !== undefined) p.start = Math.min(p.start, joinedAt);
      }
      people.set(key, p);
    } else if (e.egressId && (e.event === "egress_started" || e.event === "egress_ended")) {
      const x = egress.get(e.egressId) ?? { start: t(e), end: null, roomSid: sid };
      if (e.event === "egress_started") x.start = Math.min(x.start, t(e));
      else x.end = t(e);
      egress.set(e.egressId, x);
    } else if (e.ingressId && (e.event === "ingress_started" || e.event === "ingress_ended")) {
      const x = ingress.get(e.ingressId) ?? { start: t(e), end: null, roomSid: sid };
      if (e.event === "ingress_started") x.start = Math.min(x.start, t(e));
      else x.end = t(e);
      ingress.set(e.ingressId, x);
    }
  }
  // A room's end closes whatever was left open in it (a `joined` never followed by `left`).
  const close = (x: Interval & { roomSid: string }) => {
    const room = rooms.get(x.roomSid);
    if (x.end === null && room?.end != null && room.end >= x.start) x.end = room.end;
  };
  for (const p of people.values()) close(p);
  for (const x of egress.values()) close(x);
  for (const x of ingress.values()) close(x);
  return { rooms, people, egress, ingress, sorted };
}

/** Realtime usage per UTC day between `from` and `to`. */
export function realtimeByDay(events: Row[], from: Date, to: Date): Map<string, Tally> {
  const { rooms, people, egress, ingress, sorted } = intervals(events);
  const f = from.getTime();
  const u = to.getTime();
  const days = new Map<string, Tally>();
  for (const r of rooms.values()) addMinutes(days, "room_minutes", r, f, u);
  for (const p of people.values()) addMinutes(days, "participant_minutes", p, f, u);
  for (const x of egress.values()) addMinutes(days, "egress_minutes", x, f, u);
  for (const x of ingress.values()) addMinutes(days, "ingress_minutes", x, f, u);
  for (const e of sorted) {
    const at = e.occurredAt.getTime();
    if (at < f || at >= u) continue;
    const key =
      e.event === "room_started"
        ? "rooms"
        : e.event === "participant_joined"
          ? "participants"
          : e.event === "track_published"
            ? "tracks_published"
            : null;
    if (!key) continue;
    const day = days.get(dayOf(at)) ?? emptyTally();
    day[key]++;
    days.set(dayOf(at), day);
  }
  return days;
}

export function roomSummaries(events: Row[]): RoomSummary[] {
  const { rooms, people } = intervals(events);
  const minutes = (iv: Interval) => (iv.end === null ? 0 : (iv.end - iv.start) / 60_000);
  return [...rooms.entries()]
    .map(([roomSid, r]) => ({
      room: r.room,
      roomSid,
      startedAt: new Date(r.start).toISOString(),
      finishedAt: r.end === null ? null : new Date(r.end).toISOString(),
      minutes: minutes(r),
      participants: [...people.values()]
        .filter((p) => p.roomSid === roomSid)
        .map((p) => ({
          identity: p.identity,
          joinedAt: new Date(p.start).toISOString(),
          leftAt: p.end === null ? null : new Date(p.end).toISOString(),
          minutes: minutes(p),
        })),
    }))
    .sort((a, b) => (b.startedAt ?? "").localeCompare(a.startedAt ?? ""));
}
