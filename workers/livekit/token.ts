import { AccessToken, type VideoGrant } from "livekit-server-sdk";
import { z } from "zod";
import { errors } from "../../common/errors";
import type { Config } from "../config/env";
import { livekitRoomName, ROOM_NAME } from "./rooms";

// Grants a token may carry. The admin-like ones reach beyond the one room and are the operator's
// to allow (RELAY_LIVEKIT_ALLOW_ADMIN_GRANTS).
const ADMIN_GRANTS = [
  "roomAdmin",
  "roomCreate",
  "roomList",
  "roomRecord",
  "recorder",
  "ingressAdmin",
  "agent",
] as const;

export const tokenBody = z
  .object({
    room: z.string().regex(ROOM_NAME, "1-128 characters of letters, digits, '.', '_' and '-'"),
    identity: z.string().min(1).max(256),
    name: z.string().max(256).optional(),
    metadata: z.string().max(65_536).optional(),
    attributes: z.record(z.string().max(256), z.string().max(4096)).optional(),
    ttl: z.number().int().positive().optional(),
    grants: z
      .object({
        canPublish: z.boolean().optional(),
        canSubscribe: z.boolean().optional(),
        canPublishData: z.boolean().optional(),
        canUpdateOwnMetadata: z.boolean().optional(),
        hidden: z.boolean().optional(),
        roomAdmin: z.boolean().optional(),
        roomCreate: z.boolean().optional(),
        roomList: z.boolean().optional(),
        roomRecord: z.boolean().optional(),
        recorder: z.boolean().optional(),
        ingressAdmin: z.boolean().optional(),
        agent: z.boolean().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export interface LivekitSettings {
  url: string;
  apiKey: string;
  apiSecret: string;
}

/** LiveKit's settings, or a clear 503 when the operator has not configured LiveKit. */
export function livekitSettings(config: Config): LivekitSettings {
  if (!config.LIVEKIT_URL || !config.LIVEKIT_API_KEY || !config.LIVEKIT_API_SECRET) {
    throw errors.unavailable(
      "livekit_not_configured",
      "LiveKit is not configured: set LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET",
    );
  }
  return { url: config.LIVEKIT_URL, apiKey: config.LIVEKIT_API_KEY, apiSecret: config.LIVEKIT_API_SECRET };
}

export async function mintToken(config: Config, tenantId: string, body: z.output<typeof tokenBody>) {
  const settings = livekitSettings(config);
  const requested = body.grants ?? {};
  if (!config.RELAY_LIVEKIT_ALLOW_ADMIN_GRANTS) {
    const admin = ADMIN_GRANTS.find((g) => requested[g] === true);
    if (admin)
      throw errors.forbidden("grant_not_allowed", `The '${admin}' grant is not allowed on this deployment`);
  }
  const ttl = body.ttl ?? config.RELAY_LIVEKIT_TOKEN_TTL_SECONDS;
  if (ttl > config.RELAY_LIVEKIT_MAX_TTL_SECONDS) {
    throw errors.badRequest(
      "invalid_ttl",
      `ttl is at most ${config.RELAY_LIVEKIT_MAX_TTL_SECONDS} seconds`,
      "ttl",
    );
  }
  const room = livekitRoomName(tenantId, body.room);
  // Join, publish, subscribe and data in this one room by default; the client may narrow them.
  const grant: VideoGrant = {
    roomJoin: true,
    room,
    canPublish: requested.canPublish ?? true,
    canSubscribe: requested.canSubscribe ?? true,
    canPublishData: requested.canPublishData ?? true,
    ...(requested.canUpdateOwnMetadata !== undefined
      ? { canUpdateOwnMetadata: requested.canUpdateOwnMetadata }
      : {}),
    ...(requested.hidden !== undefined ? { hidden: requested.hidden } : {}),
  };
  for (const g of ADMIN_GRANTS)
    if (requested[g] !== undefined) (grant as Record<string, unknown>)[g] = requested[g];

  const at = new AccessToken(settings.apiKey, settings.apiSecret, {
    identity: body.identity,
    ttl,
    ...(body.name !== undefined ? { name: body.name } : {}),
    ...(body.metadata !== undefined ? { metadata: body.metadata } : {}),
    ...(body.attributes !== undefined ? { attributes: body.attributes } : {}),
  });
  at.addGrant(grant);
  const token = await at.toJwt();
  return {
    token,
    url: settings.url,
    room: body.room,
    livekitRoom: room,
    identity: body.identity,
    expiresAt: new Date(Date.now() + ttl * 1000).toISOString(),
  };
}
