import { jwtVerify, SignJWT } from "jose";
import { toBase64Url, utf8 } from "../../common/bytes";
import { errors, RelayError } from "../../common/errors";
import { type Config, required } from "../config/env";
import { MasterKeyError, parseMasterKey } from "../credentials/crypto";

// The console's secrets are derived from RELAY_MASTER_KEY (HKDF-SHA256, one label per purpose)
// rather than being one more setting to generate, store and rotate. Rotating the master key signs
// everyone out, which is what a rotation after a leak should do anyway.

const ISSUER = "relay";
const AUDIENCE = "relay-console";

/** How long a session lives without a request; each request renews it (see RENEW_AFTER_SECONDS). */
export const IDLE_SECONDS = 30 * 60;
/** A token is re-issued once it is this old, so active sessions slide and idle ones lapse. */
export const RENEW_AFTER_SECONDS = 60;
/** The longest a session lives, however active. */
export const ABSOLUTE_SECONDS = 12 * 60 * 60;

interface ConsoleKeys {
  source: string;
  signing: Uint8Array<ArrayBuffer>;
  csrf: CryptoKey;
  tag: CryptoKey;
}

let cached: Promise<ConsoleKeys> | undefined;
let cachedSource: string | undefined;

async function derive(master: CryptoKey, label: string): Promise<Uint8Array<ArrayBuffer>> {
  const bits = await crypto.subtle.deriveBits(
    { name: "HKDF", hash: "SHA-256", salt: utf8("relay-console"), info: utf8(label) },
    master,
    256,
  );
  return new Uint8Array(bits);
}

const hmacKey = (raw: Uint8Array<ArrayBuffer>) =>
  crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);

async function load(source: string): Promise<ConsoleKeys> {
  let raw: Uint8Array<ArrayBuffer>;
  try {
    raw = parseMasterKey(source);
  } catch (err) {
    if (err instanceof MasterKeyError) throw errors.misconfigured(err.message);
    throw err;
  }
  const master = await crypto.subtle.importKey("raw", raw, "HKDF", false, ["deriveBits"]);
  const [signing, csrf, tag] = await Promise.all([
    derive(master, "console session token v1"),
    derive(master, "console csrf token v1").then(hmacKey),
    derive(master, "console secret tag v1").then(hmacKey),
  ]);
  return { source, signing, csrf, tag };
}

function keys(config: Config): Promise<ConsoleKeys> {
  const source = required(config, "RELAY_MASTER_KEY");
  if (!cached || cachedSource !== source) {
    cachedSource = source;
    cached = load(source);
    cached.catch(() => {
      cached = undefined;
    });
  }
  return cached;
}

async function hmac(key: CryptoKey, message: string): Promise<string> {
  return toBase64Url(new Uint8Array(await crypto.subtle.sign("HMAC", key, utf8(message))));
}

/** The cookie's token: the session id, signed, and nothing else that matters. */
export async function signSessionToken(
  config: Config,
  sessionId: string,
  expiresAt: Date,
  issuedAt: Date = new Date(),
): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: "HS256" })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject(sessionId)
    .setIssuedAt(Math.floor(issuedAt.getTime() / 1000))
    .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
    .sign((await keys(config)).signing);
}

export interface VerifiedToken {
  sessionId: string;
  issuedAt: number;
}

/** The session id of a valid, unexpired token; null for anything else. */
export async function verifySessionToken(config: Config, token: string): Promise<VerifiedToken | null> {
  try {
    const { payload } = await jwtVerify(token, (await keys(config)).signing, {
      algorithms: ["HS256"],
      issuer: ISSUER,
      audience: AUDIENCE,
      requiredClaims: ["sub", "iat", "exp"],
    });
    if (typeof payload.sub !== "string" || typeof payload.iat !== "number") return null;
    return { sessionId: payload.sub, issuedAt: payload.iat };
  } catch (err) {
    // A missing or malformed master key is the operator's to fix, not a signed-out user.
    if (err instanceof RelayError) throw err;
    return null;
  }
}

/** The session's CSRF token: the page sends it back in a header on every change. */
export async function csrfToken(config: Config, sessionId: string): Promise<string> {
  return hmac((await keys(config)).csrf, sessionId);
}

/**
 * A tag of a secret a session was opened with (the admin token), so the session can check the
 * secret is still current without anything that could be used to recover it being stored.
 */
export async function secretTag(config: Config, secret: string): Promise<string> {
  return hmac((await keys(config)).tag, secret);
}
