import { SignJWT } from "jose";
import { AccessToken, TokenVerifier } from "livekit-server-sdk";
import { describe, expect, it } from "vitest";
import { bindings, call, callWith, createTenant } from "./helpers";

const KEY = bindings.LIVEKIT_API_KEY as string;
const SECRET = bindings.LIVEKIT_API_SECRET as string;

async function sha256b64(body: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body)));
  return btoa(String.fromCharCode(...digest));
}

/** A genuine LiveKit webhook signature, minted with the official SDK as LiveKit does. */
async function sign(body: string, key = KEY, secret = SECRET): Promise<string> {
  const at = new AccessToken(key, secret);
  at.sha256 = await sha256b64(body);
  return at.toJwt();
}

async function deliver(body: string, auth?: string | null, overrides: Record<string, string> = {}) {
  const headers: Record<string, string> = { "content-type": "application/webhook+json" };
  if (auth !== null) headers.authorization = auth ?? (await sign(body));
  return callWith(overrides, "/api/webhooks/livekit", { method: "POST", headers, body });
}

const at = (iso: string) => String(Math.floor(Date.parse(iso) / 1000));
let seq = 0;
function ev(event: string, createdAt: string, body: object = {}): string {
  return JSON.stringify({
    event,
    id: `EV_${crypto.randomUUID()}_${seq++}`,
    createdAt: at(createdAt),
    ...body,
  });
}

describe("LiveKit tokens", () => {
  it("mints a token for the tenant's own room, verified by the official TokenVerifier", async () => {
    const { apiKey, tenantId } = await createTenant();
    const res = await call("/v1/livekit/token", {
      method: "POST",
      key: apiKey,
      json: {
        room: "standup",
        identity: "alice",
        name: "Alice",
        metadata: '{"team":"a"}',
        attributes: { role: "host" },
        ttl: 600,
      },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      url: "wss://livekit.relay.test",
      room: "standup",
      identity: "alice",
      livekitRoom: `${tenantId}__standup`,
    });
    const claims = await new TokenVerifier(KEY, SECRET).verify(res.body.token);
    expect(claims.sub).toBe("alice");
    expect(claims.name).toBe("Alice");
    expect(claims.attributes).toEqual({ role: "host" });
    expect(claims.video).toMatchObject({
      roomJoin: true,
      room: `${tenantId}__standup`,
      canPublish: true,
      canSubscribe: true,
      canPublishData: true,
    });
    expect(claims.video?.roomAdmin).toBeUndefined();
    const exp = (claims as { exp?: number }).exp as number;
    expect(Math.abs(exp * 1000 - Date.parse(res.body.expiresAt))).toBeLessThan(2000);
    expect(exp * 1000 - Date.now()).toBeGreaterThan(590_000);
    await expect(
      new TokenVerifier(KEY, "another-secret-another-secret").verify(res.body.token),
    ).rejects.toThrow();
  });

  it("narrows grants on request, refuses admin grants, bounds the TTL, validates input", async () => {
    const { apiKey } = await createTenant();
    const viewer = await call("/v1/livekit/token", {
      method: "POST",
      key: apiKey,
      json: { room: "r", identity: "v", grants: { canPublish: false } },
    });
    expect((await new TokenVerifier(KEY, SECRET).verify(viewer.body.token)).video?.canPublish).toBe(false);
    for (const grant of ["roomAdmin", "roomCreate", "roomList", "recorder", "ingressAdmin"]) {
      const res = await call("/v1/livekit/token", {
        method: "POST",
        key: apiKey,
        json: { room: "r", identity: "x", grants: { [grant]: true } },
      });
      expect(res.status, grant).toBe(403);
      expect(res.body.error.code).toBe("grant_not_allowed");
    }
    const allowed = await callWith({ RELAY_LIVEKIT_ALLOW_ADMIN_GRANTS: "true" }, "/v1/livekit/token", {
      method: "POST",
      key: apiKey,
      json: { room: "r", identity: "x", grants: { roomAdmin: true } },
    });
    expect(allowed.status).toBe(200);
    expect(
      (
        await call("/v1/livekit/token", {
          method: "POST",
          key: apiKey,
          json: { room: "r", identity: "x", ttl: 999999 },
        })
      ).status,
    ).toBe(400);
    const bad = await call("/v1/livekit/token", {
      method: "POST",
      key: apiKey,
      json: { room: "../other", identity: "x" },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.param).toBe("room");
    const unconfigured = await callWith({ LIVEKIT_API_SECRET: "" }, "/v1/livekit/token", {
      method: "POST",
      key: apiKey,
      json: { room: "r", identity: "x" },
    });
    expect(unconfigured.status).toBe(503);
    expect(unconfigured.body.error.code).toBe("livekit_not_configured");
  });
});

describe("LiveKit webhooks", () => {
  it("accepts LiveKit's own test vector", async () => {
    const body =
      '{"event":"room_started", "room":{"sid":"RM_TkVjUvAqgzKz", "name":"mytestroom", "emptyTimeout":300, "creationTime":"1628545903", "turnPassword":"ICkSr2rEeslkN6e9bXL4Ji5zzMD5Z7zzr6ulOaxMj6N", "enabledCodecs":[{"mime":"audio/opus"}, {"mime":"video/VP8"}]}}';
    expect(await sha256b64(body)).toBe("CoEQz1chqJ9bnZRcORddjplkvpjmPujmLTR42DbefYI=");
    const auth = await sign(body, "abcdefg", "abababa");
    // LiveKit's vector has no id: verified, then refused as unusable for deduplication.
    const res = await deliver(body, auth, { LIVEKIT_API_KEY: "abcdefg", LIVEKIT_API_SECRET: "abababa" });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_webhook");
    const tampered = await deliver(body.replace("300", "301"), auth, {
      LIVEKIT_API_KEY: "abcdefg",
      LIVEKIT_API_SECRET: "abababa",
    });
    expect(tampered.status).toBe(401);
  });

  it("refuses bad signatures and stores nothing", async () => {
    const { apiKey, tenantId } = await createTenant();
    const body = ev("room_started", "2026-11-01T10:00:00Z", {
      room: { sid: `RM_${crypto.randomUUID()}`, name: `${tenantId}__sig` },
    });
    const good = await sign(body);
    const cases: [string, string | null, string][] = [
      ["tampered body", good, body.replace("room_started", "room_finished")],
      ["wrong secret", await sign(body, KEY, "wrong-secret-wrong-secret"), body],
      ["wrong issuer", await sign(body, "APIsomeoneelse", SECRET), body],
      [
        "expired token",
        await new SignJWT({ sha256: await sha256b64(body) })
          .setProtectedHeader({ alg: "HS256" })
          .setIssuer(KEY)
          .setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
          .sign(new TextEncoder().encode(SECRET)),
        body,
      ],
      ["missing header", null, body],
    ];
    for (const [label, auth, payload] of cases) {
      const res = await deliver(payload, auth);
      expect(res.status, label).toBe(401);
      expect(res.body.error.code).toBe("invalid_webhook_signature");
    }
    const rooms = await call("/v1/livekit/rooms", { key: apiKey });
    expect(rooms.body.rooms).toEqual([]);
    expect((await deliver(body, good)).status).toBe(200);
    const wrongType = await callWith({}, "/api/webhooks/livekit", {
      method: "POST",
      headers: { "content-type": "text/plain", authorization: good },
      body,
    });
    expect(wrongType.status).toBe(415);
  });

  it("meters minutes from the events' own times: out of order, across midnight, closed by room_finished, replays ignored", async () => {
    const a = await createTenant();
    const b = await createTenant();
    const room = { sid: `RM_${crypto.randomUUID()}`, name: `${a.tenantId}__standup` };
    const person = (sid: string, identity: string, joinedAt: string) => ({
      sid,
      identity,
      joinedAt: at(joinedAt),
    });
    const events = [
      // delivered out of order on purpose: alice leaves before her join arrives
      ev("participant_left", "2026-11-21T00:10:00Z", {
        room,
        participant: person("PA_alice", "alice", "2026-11-20T23:51:00Z"),
      }),
      ev("room_started", "2026-11-20T23:50:00Z", { room }),
      ev("participant_joined", "2026-11-20T23:51:00Z", {
        room,
        participant: person("PA_alice", "alice", "2026-11-20T23:51:00Z"),
      }),
      // bob never leaves: room_finished closes him
      ev("participant_joined", "2026-11-20T23:52:00Z", {
        room,
        participant: person("PA_bob", "bob", "2026-11-20T23:52:00Z"),
      }),
      // carol's join was never delivered: her left carries joinedAt
      ev("participant_connection_aborted", "2026-11-21T00:05:00Z", {
        room,
        participant: person("PA_carol", "carol", "2026-11-20T23:55:00Z"),
      }),
      ev("track_published", "2026-11-20T23:53:00Z", {
        room,
        participant: person("PA_bob", "bob", "2026-11-20T23:52:00Z"),
        track: { sid: "TR_1" },
      }),
      ev("egress_started", "2026-11-20T23:54:00Z", {
        egressInfo: { egressId: "EG_1", roomName: room.name, roomId: room.sid },
      }),
      ev("egress_ended", "2026-11-21T00:04:00Z", {
        egressInfo: { egressId: "EG_1", roomName: room.name, roomId: room.sid },
      }),
      ev("room_finished", "2026-11-21T00:20:00Z", { room }),
      // someone else's room on the same LiveKit: stored, counted for no tenant
      ev("room_started", "2026-11-20T23:50:00Z", { room: { sid: "RM_foreign", name: "not-a-relay-room" } }),
    ];
    for (const body of events) expect((await deliver(body)).status).toBe(200);

    const expected = [
      {
        day: "2026-11-20",
        room_minutes: 10,
        participant_minutes: 9 + 8 + 5,
        egress_minutes: 6,
        ingress_minutes: 0,
        rooms: 1,
        participants: 2,
        tracks_published: 1,
      },
      {
        day: "2026-11-21",
        room_minutes: 20,
        participant_minutes: 10 + 20 + 5,
        egress_minutes: 4,
        ingress_minutes: 0,
        rooms: 0,
        participants: 0,
        tracks_published: 0,
      },
    ];
    const usage = await call("/v1/usage?from=2026-11-20&to=2026-11-22", { key: a.apiKey });
    expect(usage.status).toBe(200);
    expect(usage.body.realtime.data).toEqual(expected);
    expect(usage.body.realtime.totals).toMatchObject({
      room_minutes: 30,
      participant_minutes: 57,
      egress_minutes: 10,
    });

    // Every webhook delivered twice more: nothing changes, and each answers 200.
    for (const body of [...events, ...events]) {
      const again = await deliver(body);
      expect(again.status).toBe(200);
      expect(again.body.duplicate).toBe(true);
    }
    expect(
      (await call("/v1/usage?from=2026-11-20&to=2026-11-22", { key: a.apiKey })).body.realtime.data,
    ).toEqual(expected);

    // Tenant B sees none of it.
    const other = await call("/v1/usage?from=2026-11-20&to=2026-11-22", { key: b.apiKey });
    expect(other.body.realtime.data).toEqual([]);
    expect(other.body.realtime.totals.room_minutes).toBe(0);

    const rooms = await call("/v1/livekit/rooms", { key: a.apiKey });
    expect(rooms.body.rooms).toEqual([
      expect.objectContaining({
        room: "standup",
        minutes: 30,
        finishedAt: "2026-11-21T00:20:00.000Z",
        participants: expect.arrayContaining([
          expect.objectContaining({ identity: "alice", minutes: 19 }),
          expect.objectContaining({ identity: "bob", minutes: 28, leftAt: "2026-11-21T00:20:00.000Z" }),
          expect.objectContaining({ identity: "carol", minutes: 10 }),
        ]),
      }),
    ]);
    expect((await call("/v1/livekit/rooms", { key: b.apiKey })).body.rooms).toEqual([]);
  });
});
