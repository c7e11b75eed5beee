import { fromBase64, fromHex, utf8 } from "../../common/bytes";

// AES-256-GCM under the operator's master key. Each write gets a fresh 12-byte IV, and the tenant
// and credential name are bound as additional authenticated data: a row copied to another
// tenant or renamed fails to decrypt instead of handing one tenant another's secret.

const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface Sealed {
  ciphertext: Uint8Array<ArrayBuffer>;
  iv: Uint8Array<ArrayBuffer>;
  authTag: Uint8Array<ArrayBuffer>;
}

export interface MasterKeys {
  current: CryptoKey;
  previous?: CryptoKey;
}

export class MasterKeyError extends Error {
  override name = "MasterKeyError";
}

export class DecryptError extends Error {
  override name = "DecryptError";
}

/** 32 bytes as 64 hex characters, or as base64 (standard or URL-safe). */
export function parseMasterKey(value: string, variable = "RELAY_MASTER_KEY"): Uint8Array<ArrayBuffer> {
  const trimmed = value.trim();
  const bytes = /^[0-9a-fA-F]{64}$/.test(trimmed) ? fromHex(trimmed) : fromBase64(trimmed);
  if (bytes?.length !== 32) {
    throw new MasterKeyError(`${variable} must be 32 bytes, written as 64 hex characters or base64`);
  }
  return bytes;
}

async function importKey(raw: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", raw, { name: "AES-GCM" }, false, ["encrypt", "decrypt"]);
}

export async function loadMasterKeys(current: string, previous?: string): Promise<MasterKeys> {
  const keys: MasterKeys = { current: await importKey(parseMasterKey(current)) };
  if (previous) keys.previous = await importKey(parseMasterKey(previous, "RELAY_MASTER_KEY_PREVIOUS"));
  return keys;
}

export function credentialAad(tenantId: string, name: string): Uint8Array<ArrayBuffer> {
  return utf8(`relay/credential/v1\u0000${tenantId}\u0000${name}`);
}

/** An http guardrail's bearer token is bound to the guardrail's name, as a credential to its tenant. */
export function guardrailTokenAad(name: string): Uint8Array<ArrayBuffer> {
  return utf8(`relay/guardrail-token/v1\u0000${name}`);
}

export async function seal(key: CryptoKey, plaintext: string, aad: Uint8Array<ArrayBuffer>): Promise<Sealed> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const out = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: aad, tagLength: 128 },
      key,
      utf8(plaintext),
    ),
  );
  // Web Crypto appends the tag; it is stored in its own column.
  return { ciphertext: out.slice(0, -TAG_BYTES), iv, authTag: out.slice(-TAG_BYTES) };
}

async function tryOpen(key: CryptoKey, sealed: Sealed, aad: Uint8Array<ArrayBuffer>): Promise<string | null> {
  const joined = new Uint8Array(sealed.ciphertext.length + sealed.authTag.length);
  joined.set(sealed.ciphertext);
  joined.set(sealed.authTag, sealed.ciphertext.length);
  try {
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: sealed.iv, additionalData: aad, tagLength: 128 },
      key,
      joined,
    );
    return new TextDecoder().decode(plain);
  } catch {
    return null;
  }
}

/**
 * Opens with the current key, then the previous one (a rotation in progress). `stale` says the
 * row should be re-sealed under the current key.
 */
export async function open(
  keys: MasterKeys,
  sealed: Sealed,
  aad: Uint8Array<ArrayBuffer>,
): Promise<{ plaintext: string; stale: boolean }> {
  const current = await tryOpen(keys.current, sealed, aad);
  if (current !== null) return { plaintext: current, stale: false };
  if (keys.previous) {
    const previous = await tryOpen(keys.previous, sealed, aad);
    if (previous !== null) return { plaintext: previous, stale: true };
  }
  throw new DecryptError("credential does not decrypt under the current or previous master key");
}
