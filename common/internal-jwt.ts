import { jwtVerify, SignJWT } from "jose";

// The Worker's calls to the sidecar carry a short-lived HS256 JWT signed with RELAY_INTERNAL_SECRET.
// Issuer and audience pin the direction, so a token minted for one hop is no good for another.
export const INTERNAL_ISSUER = "relay-worker";
export const INTERNAL_AUDIENCE = "relay-sidecar";
const LIFETIME_SECONDS = 60;

function key(secret: string): Uint8Array {
  return new TextEncoder().encode(secret);
}

export function signInternalJwt(secret: string, subject = "worker"): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: "HS256" })
    .setIssuer(INTERNAL_ISSUER)
    .setAudience(INTERNAL_AUDIENCE)
    .setSubject(subject)
    .setIssuedAt()
    .setExpirationTime(`${LIFETIME_SECONDS}s`)
    .sign(key(secret));
}

export async function verifyInternalJwt(token: string, secret: string): Promise<boolean> {
  try {
    await jwtVerify(token, key(secret), {
      algorithms: ["HS256"],
      issuer: INTERNAL_ISSUER,
      audience: INTERNAL_AUDIENCE,
      maxTokenAge: `${LIFETIME_SECONDS * 2}s`,
      clockTolerance: 5,
    });
    return true;
  } catch {
    return false;
  }
}
