import type { Context, MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { secretsEqual } from "../../common/bytes";
import { errors } from "../../common/errors";
import { keyCache } from "../auth/key-cache";
import { findCallerByKeyHash } from "../db/queries/api-keys";
import { findSession, type SessionKind, type SessionRecord } from "../db/queries/sessions";
import type { AppEnv, Caller, ConsoleSession } from "../http/types";
import {
  csrfToken,
  IDLE_SECONDS,
  RENEW_AFTER_SECONDS,
  secretTag,
  signSessionToken,
  verifySessionToken,
} from "./tokens";

export const CSRF_HEADER = "x-csrf-token";
const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$|\.localhost$/;

/**
 * Secure everywhere but on a loopback address (`npm run dev` serves plain http there). A secure
 * cookie also takes the __Host- prefix: no Domain, Path=/, so no sibling host can plant one.
 */
function cookieFor(c: Context<AppEnv>): { name: string; secure: boolean } {
  const secure = !LOOPBACK.test(new URL(c.req.url).hostname);
  return { name: secure ? "__Host-relay_session" : "relay_session", secure };
}

/** Sets the session cookie to a fresh token that lives IDLE_SECONDS, never past the session's end. */
export async function issueSessionCookie(c: Context<AppEnv>, sessionId: string, end: Date): Promise<void> {
  const expires = new Date(Math.min(Date.now() + IDLE_SECONDS * 1000, end.getTime()));
  const token = await signSessionToken(c.get("config"), sessionId, expires);
  const { name, secure } = cookieFor(c);
  setCookie(c, name, token, {
    httpOnly: true,
    secure,
    sameSite: "Strict",
    path: "/",
    maxAge: Math.max(0, Math.round((expires.getTime() - Date.now()) / 1000)),
  });
}

export function sentSessionCookie(c: Context<AppEnv>): boolean {
  return getCookie(c, cookieFor(c).name) !== undefined;
}

export function clearSessionCookie(c: Context<AppEnv>): void {
  const { name, secure } = cookieFor(c);
  deleteCookie(c, name, { path: "/", secure, httpOnly: true, sameSite: "Strict" });
}

export function consoleSession(record: SessionRecord): ConsoleSession {
  return {
    id: record.id,
    kind: record.kind,
    tenant:
      record.tenantId && record.tenantName !== null ? { id: record.tenantId, name: record.tenantName } : null,
    key: record.keyId && record.keyPrefix !== null ? { id: record.keyId, prefix: record.keyPrefix } : null,
    expiresAt: record.expiresAt,
  };
}

interface Loaded {
  session: ConsoleSession;
  caller: Caller | null;
  issuedAt: number;
}

/**
 * The request's session, or null when there is none or it no longer holds: a bad or expired token,
 * a revoked or ended session, a revoked key (asked of the isolate key cache, as the API asks it), or
 * an admin token that has changed since the operator signed in.
 */
export async function loadSession(c: Context<AppEnv>): Promise<Loaded | null> {
  const token = getCookie(c, cookieFor(c).name);
  if (!token) return null;
  const config = c.get("config");
  const verified = await verifySessionToken(config, token);
  if (!verified) return null;
  const handle = c.get("db");
  const record = await findSession(handle.db, verified.sessionId);
  if (!record || record.revoked || record.expiresAt.getTime() <= Date.now()) return null;

  let caller: Caller | null = null;
  if (record.kind === "tenant") {
    const hash = record.keyHash;
    if (!hash || record.keyRevoked || !record.tenantId) return null;
    caller = await keyCache.get(
      hash,
      config.RELAY_KEY_CACHE_TTL_MS,
      () => findCallerByKeyHash(handle.db, hash),
      (refresh) => handle.defer(() => refresh),
    );
    if (!caller || caller.tenantId !== record.tenantId || caller.keyId !== record.keyId) return null;
  } else {
    const admin = config.RELAY_ADMIN_TOKEN;
    if (!admin || !record.secretTag) return null;
    if (!(await secretsEqual(await secretTag(config, admin), record.secretTag))) return null;
  }
  return { session: consoleSession(record), caller, issuedAt: verified.issuedAt };
}

/**
 * Cross-site requests never change anything: browsers say where a request comes from
 * (Sec-Fetch-Site), and SameSite=Strict keeps the cookie off cross-site requests anyway.
 */
export function refuseCrossSite(c: Context<AppEnv>): void {
  const site = c.req.header("sec-fetch-site");
  if (UNSAFE.has(c.req.method) && (site === "cross-site" || site === "same-site")) {
    throw errors.forbidden("cross_site_request", "The console accepts changes from its own pages only");
  }
}

/**
 * A console session of the given kind. Tenant sessions act as the key they signed in with (the
 * caller every tenant route reads its tenant from); every change must carry the session's CSRF
 * token. The cookie is re-issued once a minute, so a session lapses after IDLE_SECONDS unused.
 */
export function requireSession(kind: SessionKind | "any"): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    refuseCrossSite(c);
    const loaded = await loadSession(c);
    if (!loaded) {
      if (sentSessionCookie(c)) clearSessionCookie(c);
      throw errors.unauthorized(
        "session_required",
        "Sign in to the console first (your session may have ended)",
      );
    }
    const { session, caller, issuedAt } = loaded;
    if (kind !== "any" && session.kind !== kind) {
      throw errors.forbidden(
        kind === "operator" ? "operator_only" : "tenant_only",
        kind === "operator"
          ? "This page is for the operator: sign in with the admin token"
          : "This page belongs to a tenant: sign in with one of its API keys",
      );
    }
    if (UNSAFE.has(c.req.method)) {
      const given = c.req.header(CSRF_HEADER) ?? "";
      const expected = await csrfToken(c.get("config"), session.id);
      if (!given || !(await secretsEqual(given, expected))) {
        throw errors.forbidden("invalid_csrf_token", `Missing or wrong ${CSRF_HEADER} header`);
      }
    }
    c.set("session", session);
    if (caller) c.set("caller", caller);
    if (Date.now() / 1000 - issuedAt >= RENEW_AFTER_SECONDS) {
      await issueSessionCookie(c, session.id, session.expiresAt);
    }
    await next();
  };
}
