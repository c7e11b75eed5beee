import type { Context } from "hono";
import { Hono } from "hono";
import { z } from "zod";
import { secretsEqual } from "../../common/bytes";
import { errors } from "../../common/errors";
import { auditContext } from "../audit/context";
import { hashApiKey, isWellFormedApiKey } from "../auth/api-key";
import { required } from "../config/env";
import { findCallerByKeyHash, touchApiKey } from "../db/queries/api-keys";
import { createSession, findSession, purgeEndedSessions, revokeSession } from "../db/queries/sessions";
import { readJson } from "../http/body";
import type { AppEnv, ConsoleSession } from "../http/types";
import {
  clearSessionCookie,
  consoleSession,
  issueSessionCookie,
  refuseCrossSite,
  requireSession,
} from "./auth";
import { ABSOLUTE_SECONDS, csrfToken, IDLE_SECONDS, secretTag } from "./tokens";

const signInBody = z.union([
  z.object({ apiKey: z.string().trim().min(1).max(200) }).strict(),
  z.object({ adminToken: z.string().trim().min(1).max(1000) }).strict(),
]);

/** What the page knows about its session; the CSRF token is for its own requests' header. */
export async function describeSession(c: Context<AppEnv>, session: ConsoleSession) {
  return {
    kind: session.kind,
    tenant: session.tenant,
    key: session.key,
    expiresAt: session.expiresAt.toISOString(),
    idleTimeoutSeconds: IDLE_SECONDS,
    csrfToken: await csrfToken(c.get("config"), session.id),
  };
}

/**
 * Sign-in trades a relay API key (a tenant) or the admin token (the operator) for a session cookie.
 * The secret is checked against the database itself, not a cache, and is never stored: the session
 * row keeps the key's id, or an HMAC tag of the admin token.
 */
export const sessionRoutes = new Hono<AppEnv>()
  .post("/", async (c) => {
    refuseCrossSite(c);
    const body = await readJson(c, signInBody);
    const config = c.get("config");
    const handle = c.get("db");
    const audit = auditContext(c, "admin");
    const expiresAt = new Date(Date.now() + ABSOLUTE_SECONDS * 1000);
    let id: string;
    if ("apiKey" in body) {
      const hash = isWellFormedApiKey(body.apiKey) ? await hashApiKey(body.apiKey) : null;
      const caller = hash ? await findCallerByKeyHash(handle.db, hash) : null;
      if (!caller) throw errors.unauthorized("invalid_api_key", "Invalid API key (unknown or revoked)");
      id = await createSession(
        handle.db,
        { ...audit, actor: `api_key:${caller.keyId}` },
        {
          kind: "tenant",
          tenantId: caller.tenantId,
          keyId: caller.keyId,
          secretTag: null,
          expiresAt,
        },
      );
      handle.defer(() => touchApiKey(handle.db, caller.keyId));
    } else {
      const expected = required(config, "RELAY_ADMIN_TOKEN");
      if (!(await secretsEqual(body.adminToken, expected)))
        throw errors.unauthorized("invalid_admin_token", "Invalid admin token");
      id = await createSession(handle.db, audit, {
        kind: "operator",
        tenantId: null,
        keyId: null,
        secretTag: await secretTag(config, expected),
        expiresAt,
      });
    }
    handle.defer(() => purgeEndedSessions(handle.db));
    // Read back as every later request sees it (the tenant's name, the key's prefix).
    const record = await findSession(handle.db, id);
    if (!record) throw new Error("the new session is not there");
    await issueSessionCookie(c, id, expiresAt);
    return c.json({ session: await describeSession(c, consoleSession(record)) }, 201);
  })
  .get("/", requireSession("any"), async (c) =>
    c.json({ session: await describeSession(c, c.get("session")) }),
  )
  .delete("/", requireSession("any"), async (c) => {
    const session = c.get("session");
    const actor = session.key ? `api_key:${session.key.id}` : "admin";
    await revokeSession(c.get("db").db, auditContext(c, actor), session.id);
    clearSessionCookie(c);
    return c.json({ signedOut: true });
  });
