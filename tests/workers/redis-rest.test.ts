import { Redis } from "@upstash/redis/cloudflare";
import { describe, expect, it } from "vitest";
import { bindings } from "./helpers";

// The sidecar's Upstash-compatible front for a plain Redis, driven by the real @upstash/redis client
// from inside workerd, exactly as the Worker will use it.
const redis = new Redis({
  url: bindings.UPSTASH_REDIS_REST_URL as string,
  token: bindings.UPSTASH_REDIS_REST_TOKEN as string,
  enableTelemetry: false,
});

describe("Redis over the Upstash REST protocol", () => {
  const key = `relay-test:${crypto.randomUUID()}`;

  it("round-trips values (base64 response encoding, unicode included)", async () => {
    expect(await redis.set(key, "héllo ✓ wörld", { ex: 60 })).toBe("OK");
    expect(await redis.get(key)).toBe("héllo ✓ wörld");
    expect(await redis.ping()).toBe("PONG");
    expect(await redis.incr(`${key}:n`)).toBe(1);
    await redis.expire(`${key}:n`, 60);
  });

  it("runs pipelines and transactions", async () => {
    const p = redis.pipeline();
    p.set(`${key}:a`, "1", { ex: 60 });
    p.incrby(`${key}:a`, 41);
    p.get(`${key}:a`);
    expect(await p.exec()).toEqual(["OK", 42, 42]);

    const tx = redis.multi();
    tx.set(`${key}:b`, "x", { ex: 60 });
    tx.get(`${key}:b`);
    expect(await tx.exec()).toEqual(["OK", "x"]);
  });

  it("refuses a wrong token", async () => {
    const res = await fetch(bindings.UPSTASH_REDIS_REST_URL as string, {
      method: "POST",
      headers: { authorization: "Bearer wrong-token-0000000000", "content-type": "application/json" },
      body: JSON.stringify(["PING"]),
    });
    expect(res.status).toBe(401);
    for (const path of ["/pipeline", "/multi-exec"]) {
      const r = await fetch(`${bindings.UPSTASH_REDIS_REST_URL}${path}`, {
        method: "POST",
        body: JSON.stringify([["PING"]]),
      });
      expect(r.status, path).toBe(401);
    }
  });

  it("answers Redis errors as errors", async () => {
    await expect(redis.eval("return redis.error_reply('boom')", [], [])).rejects.toThrow(/boom/);
  });
});
