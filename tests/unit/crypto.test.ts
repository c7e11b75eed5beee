import { describe, expect, it } from "vitest";
import { toHex } from "../../common/bytes";
import {
  credentialAad,
  DecryptError,
  loadMasterKeys,
  MasterKeyError,
  open,
  parseMasterKey,
  seal,
} from "../../workers/credentials/crypto";

const hexKey = () => toHex(crypto.getRandomValues(new Uint8Array(32)));

describe("master key parsing", () => {
  it("accepts 32 bytes as hex or base64 (standard or URL-safe)", () => {
    const raw = crypto.getRandomValues(new Uint8Array(32));
    expect(parseMasterKey(toHex(raw))).toEqual(raw);
    expect(parseMasterKey(Buffer.from(raw).toString("base64"))).toEqual(raw);
    expect(parseMasterKey(Buffer.from(raw).toString("base64url"))).toEqual(raw);
  });

  it("refuses anything that is not 32 bytes, naming the variable and not the value", () => {
    for (const bad of ["", "abc", "00".repeat(31), Buffer.alloc(16).toString("base64"), "!".repeat(44)]) {
      expect(() => parseMasterKey(bad)).toThrow(MasterKeyError);
    }
    try {
      parseMasterKey("secret-looking-value", "RELAY_MASTER_KEY_PREVIOUS");
    } catch (err) {
      expect((err as Error).message).toContain("RELAY_MASTER_KEY_PREVIOUS");
      expect((err as Error).message).not.toContain("secret-looking-value");
    }
  });
});

describe("AES-256-GCM sealing", () => {
  it("round-trips, with a fresh IV each time", async () => {
    const keys = await loadMasterKeys(hexKey());
    const aad = credentialAad("tenant-1", "openai");
    const a = await seal(keys.current, "sk-secret ✓", aad);
    const b = await seal(keys.current, "sk-secret ✓", aad);
    expect(a.iv).toHaveLength(12);
    expect(a.authTag).toHaveLength(16);
    expect(toHex(a.iv)).not.toBe(toHex(b.iv));
    expect(await open(keys, a, aad)).toEqual({ plaintext: "sk-secret ✓", stale: false });
  });

  it("fails on a flipped bit in ciphertext, tag or IV", async () => {
    const keys = await loadMasterKeys(hexKey());
    const aad = credentialAad("t", "n");
    const sealed = await seal(keys.current, "sk-secret", aad);
    for (const field of ["ciphertext", "authTag", "iv"] as const) {
      const copy = { ...sealed, [field]: Uint8Array.from(sealed[field]) };
      copy[field][0] = (copy[field][0] as number) ^ 0x80;
      await expect(open(keys, copy, aad)).rejects.toBeInstanceOf(DecryptError);
    }
  });

  it("binds tenant and name: another tenant's or name's AAD does not open it", async () => {
    const keys = await loadMasterKeys(hexKey());
    const sealed = await seal(keys.current, "sk-secret", credentialAad("tenant-a", "openai"));
    await expect(open(keys, sealed, credentialAad("tenant-b", "openai"))).rejects.toBeInstanceOf(
      DecryptError,
    );
    await expect(open(keys, sealed, credentialAad("tenant-a", "groq"))).rejects.toBeInstanceOf(DecryptError);
    // The separator keeps ("ab","c") and ("a","bc") apart.
    const s2 = await seal(keys.current, "x", credentialAad("ab", "c"));
    await expect(open(keys, s2, credentialAad("a", "bc"))).rejects.toBeInstanceOf(DecryptError);
  });

  it("opens rows of the previous key during a rotation and flags them stale", async () => {
    const oldKey = hexKey();
    const newKey = hexKey();
    const aad = credentialAad("t", "anthropic");
    const sealed = await seal((await loadMasterKeys(oldKey)).current, "sk-old", aad);
    expect(await open(await loadMasterKeys(newKey, oldKey), sealed, aad)).toEqual({
      plaintext: "sk-old",
      stale: true,
    });
    await expect(open(await loadMasterKeys(newKey), sealed, aad)).rejects.toBeInstanceOf(DecryptError);
  });
});
