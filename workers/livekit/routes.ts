import { Hono } from "hono";
import { WebhookReceiver } from "livekit-server-sdk";
import { z } from "zod";
import { errors } from "../../common/errors";
import { insertLivekitEvent, recentLivekitRoomEvents } from "../db/queries/livekit";
import { readJson } from "../http/body";
import { readTextWithin } from "../http/read-text";
import type { AppEnv } from "../http/types";
import { roomSummaries } from "./metering";
import { parseRoomName } from "./rooms";
import { livekitSettings, mintToken, tokenBody } from "./token";

const seconds = (v: bigint | number | undefined) => (v ? new Date(Number(v) * 1000) : null);

/** POST /v1/livekit/token and GET /v1/livekit/rooms (API key). */
export const livekitRoutes = new Hono<AppEnv>()
  .post("/token", async (c) => {
    const body = await readJson(c, tokenBody);
    return c.json(await mintToken(c.get("config"), c.get("caller").tenantId, body));
  })
  .get("/rooms", async (c) => {
    const limit = z.coerce.number().int().min(1).max(100).default(20).safeParse(c.req.query("limit"));
    if (!limit.success) throw errors.badRequest("invalid_query", "limit: 1-100", "limit");
    const events = await recentLivekitRoomEvents(c.get("db").db, c.get("caller").tenantId, limit.data);
    const rooms = roomSummaries(events).map((r) => ({ ...r, room: parseRoomName(r.room)?.room ?? r.room }));
    return c.json({ rooms });
  });

/**
 * POST /api/webhooks/livekit: no API key; LiveKit signs each delivery. The Authorization JWT is
 * checked against the raw body exactly as LiveKit specifies (HS256 with the API secret, issuer =
 * API key, `sha256` claim = base64 SHA-256 of the body) by livekit-server-sdk's own receiver.
 */
export const livekitWebhook = new Hono<AppEnv>().post("/", async (c) => {
  const settings = livekitSettings(c.get("config"));
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/(webhook\+)?json\b/i.test(type)) throw errors.unsupportedMediaType(type);
  const limit = c.get("config").MAX_REQUEST_BODY_BYTES;
  const raw = await readTextWithin(c.req.raw, limit);
  if (raw === null) throw errors.tooLarge(limit);
  const auth = (c.req.header("authorization") ?? "").replace(/^Bearer\s+/i, "");

  let event: Awaited<ReturnType<WebhookReceiver["receive"]>>;
  try {
    event = await new WebhookReceiver(settings.apiKey, settings.apiSecret).receive(raw, auth);
  } catch (err) {
    // Nothing is stored for a delivery that does not verify.
    const why = err instanceof Error ? err.message : "verification failed";
    throw errors.unauthorized("invalid_webhook_signature", `Webhook rejected: ${why}`);
  }
  if (!event.id || !event.event) throw errors.badRequest("invalid_webhook", "The event has no id or type");

  // Egress and ingress events name their room in their own info.
  const roomName = event.room?.name || event.egressInfo?.roomName || event.ingressInfo?.roomName || undefined;
  const roomSid = event.room?.sid || event.egressInfo?.roomId || event.ingressInfo?.state?.roomId || null;
  const owner = parseRoomName(roomName);
  const participant = event.participant;
  const joinedAt = participant?.joinedAtMs
    ? new Date(Number(participant.joinedAtMs))
    : seconds(participant?.joinedAt);
  const stored = await insertLivekitEvent(c.get("db").db, {
    id: event.id,
    tenantId: owner?.tenantId ?? null,
    event: event.event,
    room: roomName ?? null,
    roomSid,
    participantSid: participant?.sid || null,
    participantIdentity: participant?.identity || null,
    participantJoinedAt: joinedAt,
    trackSid: event.track?.sid || null,
    egressId: event.egressInfo?.egressId || null,
    ingressId: event.ingressInfo?.ingressId || null,
    occurredAt: seconds(event.createdAt) ?? new Date(),
    payload: JSON.parse(raw) as Record<string, unknown>,
  });
  return c.json({ received: true, duplicate: !stored });
});
