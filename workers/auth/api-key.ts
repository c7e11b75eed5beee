import { sha256Hex, toBase64Url } from "../../common/bytes";

export const API_KEY_PREFIX = "relay_live_";
const WELL_FORMED = /^relay_live_[A-Za-z0-9_-]{43}$/;

export interface NewApiKey {
  secret: string;
  hashedSecret: string;
  prefix: string;
}

/** `relay_live_` + 32 random bytes (base64url). Only the SHA-256 hash is ever stored. */
export async function generateApiKey(): Promise<NewApiKey> {
  const secret = API_KEY_PREFIX + toBase64Url(crypto.getRandomValues(new Uint8Array(32)));
  return { secret, hashedSecret: await hashApiKey(secret), prefix: displayPrefix(secret) };
}

export function hashApiKey(secret: string): Promise<string> {
  return sha256Hex(secret);
}

export function isWellFormedApiKey(value: string): boolean {
  return WELL_FORMED.test(value);
}

/** Enough of the key to recognise it in a list, far too little to use it. */
export function displayPrefix(secret: string): string {
  return `${secret.slice(0, 16)}…`;
}
