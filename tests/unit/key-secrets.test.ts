import { getHeapSnapshot } from "node:v8";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { hashApiKey } from "../../workers/auth/api-key";
import { keyCache } from "../../workers/auth/key-cache";
import { requireApiKey, TouchSchedule } from "../../workers/auth/middleware";
import { loadConfig } from "../../workers/config/env";
import type { AppEnv, Caller } from "../../workers/http/types";

/**
 * Whether the heap holds `needle` anywhere: a heap snapshot keeps only what is reachable (it
 * collects garbage first) and carries every string's contents, so a secret some map still holds
 * shows up in it.
 */
async function heapContains(needle: Buffer): Promise<boolean> {
  let tail = Buffer.alloc(0);
  for await (const chunk of getHeapSnapshot()) {
    const window = Buffer.concat([tail, chunk as Buffer]);
    if (window.includes(needle)) return true;
    tail = window.subarray(Math.max(window.length - needle.length, 0));
  }
  return false;
}

/** A key built only inside this call, so nothing in the test keeps it as a string. */
async function authenticateOnce(random: Buffer): Promise<number> {
  const key = `relay_live_${random.toString("base64url")}`;
  const hash = await hashApiKey(key);
  const caller: Caller = { keyId: `k-${hash.slice(0, 8)}`, tenantId: "t1", policy: {}, limits: null };
  // Warm the isolate cache as a first request would, so the middleware needs no database.
  await keyCache.get(hash, 60_000, async () => caller);
  const config = { ...loadConfig({}), RELAY_KEY_CACHE_TTL_MS: 60_000 };
  const app = new Hono<AppEnv>();
  app.use("*", async (c, next) => {
    c.set("config", config);
    c.set("db", { db: {}, defer: () => {} } as unknown as AppEnv["Variables"]["db"]);
    await next();
  });
  app.use("*", requireApiKey);
  app.get("/", (c) => c.text(c.get("caller").keyId));
  const res = await app.request("/", { headers: { authorization: `Bearer ${key}` } });
  await res.text();
  return res.status;
}

describe("raw API keys in the isolate", () => {
  it("are not held once the request is over; the cache knows only the hash", async () => {
    const random = Buffer.from(crypto.getRandomValues(new Uint8Array(32)));
    expect(await authenticateOnce(random)).toBe(200);
    // The base64url body alone: a raw key is found in any string that contains it.
    const secretBody = Buffer.from(random.toString("base64url"));
    const hash = Buffer.from(await hashApiKey(`relay_live_${random.toString("base64url")}`));
    // V8 keeps the last regex input (RegExp.input, a legacy static) until the next match, in the
    // test as in an isolate serving its next request: one string, overwritten, not a store.
    /x/.exec("overwrite RegExp.input");
    expect(await heapContains(hash)).toBe(true); // the search works: the cache holds the hash
    expect(await heapContains(secretBody)).toBe(false);
  }, 60_000);
});

describe("last-used bookkeeping in the isolate", () => {
  it("touches a key at most once per interval", () => {
    const touches = new TouchSchedule(60_000, 100);
    expect(touches.due("k1", 1_000)).toBe(true);
    expect(touches.due("k1", 30_000)).toBe(false);
    expect(touches.due("k1", 61_000)).toBe(true);
  });

  it("stays bounded however many keys come and go (key churn)", () => {
    const touches = new TouchSchedule(60_000, 100);
    for (let i = 0; i < 1_000; i++) touches.due(`key-${i}`, i * 1_000); // one new key a second
    expect(touches.size).toBeLessThanOrEqual(100);
    // Entries still within the interval are kept: the latest key is not due again.
    expect(touches.due("key-999", 999_500)).toBe(false);
  });
});
