import { describe, expect, it, vi } from "vitest";
import { secretsEqual } from "../../common/bytes";
import { displayPrefix, generateApiKey, hashApiKey, isWellFormedApiKey } from "../../workers/auth/api-key";
import { KeyCache } from "../../workers/auth/key-cache";

describe("API key format", () => {
  it("is relay_live_ + base64url of 32 random bytes, stored only as its SHA-256", async () => {
    const a = await generateApiKey();
    const b = await generateApiKey();
    expect(a.secret).toMatch(/^relay_live_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(a.secret.slice(11), "base64url")).toHaveLength(32);
    expect(a.secret).not.toBe(b.secret);
    expect(a.hashedSecret).toBe(await hashApiKey(a.secret));
    expect(a.hashedSecret).toMatch(/^[0-9a-f]{64}$/);
    expect(a.prefix).toBe(displayPrefix(a.secret));
    expect(a.prefix.length).toBe(17);
    expect(isWellFormedApiKey(a.secret)).toBe(true);
    expect(isWellFormedApiKey(`${a.secret}x`)).toBe(false);
    expect(isWellFormedApiKey(a.secret.replace("relay_live_", "relay_test_"))).toBe(false);
  });

  it("compares secrets without short-circuiting on length", async () => {
    expect(await secretsEqual("token-abc", "token-abc")).toBe(true);
    expect(await secretsEqual("token-abc", "token-abd")).toBe(false);
    expect(await secretsEqual("", "token-abc")).toBe(false);
  });
});

describe("isolate key cache", () => {
  const caller = { keyId: "k1", tenantId: "t1", policy: {}, limits: null };

  it("caches hits and misses for the TTL, then asks again", async () => {
    vi.useFakeTimers();
    try {
      const cache = new KeyCache();
      const load = vi.fn(async () => caller);
      expect(await cache.get("h", 5000, load)).toEqual(caller);
      expect(await cache.get("h", 5000, load)).toEqual(caller);
      expect(load).toHaveBeenCalledTimes(1);
      vi.advanceTimersByTime(5001);
      await cache.get("h", 5000, load);
      expect(load).toHaveBeenCalledTimes(2);

      const miss = vi.fn(async () => null);
      expect(await cache.get("unknown", 5000, miss)).toBeNull();
      expect(await cache.get("unknown", 5000, miss)).toBeNull();
      expect(miss).toHaveBeenCalledTimes(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it("shares one lookup between concurrent requests", async () => {
    const cache = new KeyCache();
    let resolve: (v: typeof caller) => void = () => {};
    const load = vi.fn(() => new Promise<typeof caller>((r) => (resolve = r)));
    const both = Promise.all([cache.get("h", 5000, load), cache.get("h", 5000, load)]);
    resolve(caller);
    expect(await both).toEqual([caller, caller]);
    expect(load).toHaveBeenCalledTimes(1);
  });

  it("forgets a revoked key at once", async () => {
    const cache = new KeyCache();
    await cache.get("h", 5000, async () => caller);
    cache.forgetKey("k1");
    const load = vi.fn(async () => null);
    expect(await cache.get("h", 5000, load)).toBeNull();
    expect(load).toHaveBeenCalledTimes(1);
  });

  it("does not cache when the TTL is 0", async () => {
    const cache = new KeyCache();
    const load = vi.fn(async () => caller);
    await cache.get("h", 0, load);
    await cache.get("h", 0, load);
    expect(load).toHaveBeenCalledTimes(2);
  });
});

describe("isolate key cache past its TTL", () => {
  const caller = { keyId: "k1", tenantId: "t1", policy: {}, limits: null };

  it("serves the stale entry while one background refresh runs, then the refreshed answer", async () => {
    vi.useFakeTimers();
    try {
      const cache = new KeyCache();
      await cache.get("h", 5000, async () => caller);
      vi.advanceTimersByTime(5001);
      let release: (v: null) => void = () => {};
      const revoked = vi.fn(() => new Promise<null>((r) => (release = r)));
      const refreshes: Promise<unknown>[] = [];
      // Past the TTL: answered from cache at once, a refresh starts in the background.
      expect(await cache.get("h", 5000, revoked, (p) => refreshes.push(p))).toEqual(caller);
      expect(await cache.get("h", 5000, revoked, (p) => refreshes.push(p))).toEqual(caller);
      expect(revoked).toHaveBeenCalledTimes(1);
      expect(refreshes).toHaveLength(1);
      release(null);
      await Promise.all(refreshes);
      // The revocation the refresh saw now holds.
      expect(await cache.get("h", 5000, revoked)).toBeNull();
    } finally {
      vi.useRealTimers();
    }
  });

  it("stops serving a stale entry after the hard limit, even without a refresh", async () => {
    vi.useFakeTimers();
    try {
      const cache = new KeyCache();
      await cache.get("h", 5000, async () => caller);
      vi.advanceTimersByTime(5000 + 60_001);
      const load = vi.fn(async () => null);
      expect(await cache.get("h", 5000, load)).toBeNull();
      expect(load).toHaveBeenCalledTimes(1);
    } finally {
      vi.useRealTimers();
    }
  });
});
