// A tenant's rooms live under a LiveKit name no other tenant can produce: `<tenant id>__<room>`.
// Webhooks carry that name back, which is how their events are attributed.
const SEPARATOR = "__";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const ROOM_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function livekitRoomName(tenantId: string, room: string): string {
  return `${tenantId}${SEPARATOR}${room}`;
}

/** The tenant and the client's room name of a LiveKit room name, or null for rooms relay did not name. */
export function parseRoomName(name: string | undefined): { tenantId: string; room: string } | null {
  if (!name) return null;
  const at = name.indexOf(SEPARATOR);
  if (at < 0) return null;
  const tenantId = name.slice(0, at);
  const room = name.slice(at + SEPARATOR.length);
  return UUID.test(tenantId) && ROOM_NAME.test(room) ? { tenantId, room } : null;
}
