import type { Caller } from "../http/types";

interface Entry {
  caller: Caller | null;
  /** Fresh until then; after it, served while one background refresh runs. */
  freshUntil: number;
  /** Never served after this, refresh or not. */
  hardExpiry: number;
}

const MAX_ENTRIES = 10_000;
/** How long a key may be served from cache while Postgres cannot be reached. */
export const STALE_LIMIT_MS = 60_000;

/**
 * Isolate-local cache of API-key lookups, keyed by the key's hash, so an authenticated request
 * makes no database round trip. Unknown keys are cached too (as null), so a flood of bad keys
 * does not become a flood of queries. An entry past its TTL is still served while one background
 * refresh runs (stale-while-revalidate): no request waits on Postgres once warm, and a revocation
 * takes effect within the TTL plus one refresh. A revocation made in this isolate drops the entry
 * at once.
 */
export class KeyCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<Caller | null>>();

  /**
   * `background` receives the refresh promise of a stale hit, so the caller can keep the request
   * alive until it settles (ctx.waitUntil).
   */
  async get(
    hash: string,
    ttlMs: number,
    load: () => Promise<Caller | null>,
    background: (refresh: Promise<unknown>) => void = () => {},
  ): Promise<Caller | null> {
    const now = Date.now();
    const hit = this.entries.get(hash);
    if (hit && hit.freshUntil > now) return hit.caller;
    if (hit && hit.hardExpiry > now) {
      if (!this.inflight.has(hash)) background(this.refresh(hash, ttlMs, load).catch(() => {}));
      return hit.caller;
    }
    return this.refresh(hash, ttlMs, load);
  }

  /** What the cache holds for a hash without loading it: undefined when it holds nothing usable. */
  peek(hash: string): Caller | null | undefined {
    const hit = this.entries.get(hash);
    return hit && hit.hardExpiry > Date.now() ? hit.caller : undefined;
  }

  private refresh(hash: string, ttlMs: number, load: () => Promise<Caller | null>): Promise<Caller | null> {
    let pending = this.inflight.get(hash);
    if (pending) return pending;
    pending = load()
      .then((caller) => {
        if (ttlMs > 0) this.store(hash, caller, ttlMs);
        return caller;
      })
      .finally(() => this.inflight.delete(hash));
    this.inflight.set(hash, pending);
    return pending;
  }

  private store(hash: string, caller: Caller | null, ttlMs: number): void {
    const now = Date.now();
    if (!this.entries.has(hash) && this.entries.size >= MAX_ENTRIES) this.evict(now);
    this.entries.delete(hash); // re-insert at the end: the Map's order is the eviction order
    this.entries.set(hash, { caller, freshUntil: now + ttlMs, hardExpiry: now + ttlMs + STALE_LIMIT_MS });
  }

  forgetKey(keyId: string): void {
    for (const [hash, entry] of this.entries) if (entry.caller?.keyId === keyId) this.entries.delete(hash);
  }

  /** After a tenant's ceilings changed: its keys are looked up afresh in this isolate. */
  forgetTenant(tenantId: string): void {
    for (const [hash, entry] of this.entries)
      if (entry.caller?.tenantId === tenantId) this.entries.delete(hash);
  }

  private evict(now: number): void {
    for (const [hash, entry] of this.entries) if (entry.hardExpiry <= now) this.entries.delete(hash);
    while (this.entries.size >= MAX_ENTRIES) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }
}

export const keyCache = new KeyCache();
