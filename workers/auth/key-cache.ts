import type { Caller } from "../http/types";

interface Entry {
  caller: Caller | null;
  expiresAt: number;
}

const MAX_ENTRIES = 10_000;

/**
 * Isolate-local cache of API-key lookups, keyed by the key's hash. Unknown keys are cached too
 * (as null) so a flood of bad keys does not become a flood of queries. A revocation made in this
 * isolate drops the entry at once; other isolates see it when their entry expires (TTL).
 */
export class KeyCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<Caller | null>>();

  async get(hash: string, ttlMs: number, load: () => Promise<Caller | null>): Promise<Caller | null> {
    const now = Date.now();
    const hit = this.entries.get(hash);
    if (hit && hit.expiresAt > now) return hit.caller;

    // Concurrent requests with the same key share one lookup.
    let pending = this.inflight.get(hash);
    if (!pending) {
      pending = load().finally(() => this.inflight.delete(hash));
      this.inflight.set(hash, pending);
    }
    const caller = await pending;
    if (ttlMs > 0) {
      if (this.entries.size >= MAX_ENTRIES) this.evict(now);
      this.entries.set(hash, { caller, expiresAt: now + ttlMs });
    }
    return caller;
  }

  forgetKey(keyId: string): void {
    for (const [hash, entry] of this.entries) if (entry.caller?.keyId === keyId) this.entries.delete(hash);
  }

  private evict(now: number): void {
    for (const [hash, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(hash);
    // Still full of live entries: drop the oldest inserted (Map keeps insertion order).
    while (this.entries.size >= MAX_ENTRIES) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }
}

export const keyCache = new KeyCache();
