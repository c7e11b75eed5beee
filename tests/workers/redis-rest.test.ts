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

  it("runs scripts: EVALSHA, EVAL on NOSCRIPT, shebang flags, and in pipelines", async () => {
    // A script no Redis has seen: EVALSHA answers NOSCRIPT, the client falls back to EVAL.
    const fresh = redis.createScript<string>(`return ARGV[1] .. '${crypto.randomUUID()}'`);
    expect(await fresh.exec([], ["x"])).toMatch(/^x/);
    expect(await fresh.evalsha([], ["y"])).toMatch(/^y/);
    // Redis 7 script flags, as @upstash/ratelimit writes them.
    expect(await redis.eval("#!lua flags=no-writes,allow-stale\nreturn 7", [], [])).toBe(7);
    const p = redis.pipeline();
    p.eval("return KEYS[1]", [`${key}:k`], []);
    p.evalsha("0000000000000000000000000000000000000000", [], []);
    const results = await p.exec({ keepErrors: true });
    expect(results[0]).toMatchObject({ result: `${key}:k` });
    expect(String(results[1]?.error)).toMatch(/NOSCRIPT/);
  });

  it("counts the round trips and commands it served", async () => {
    const stats = async () => {
      const res = await fetch(`${bindings.UPSTASH_REDIS_REST_URL}/stats`, {
        headers: { authorization: `Bearer ${bindings.UPSTASH_REDIS_REST_TOKEN}` },
      });
      expect(res.status).toBe(200);
      return (await res.json()) as { roundTrips: Record<string, number>; commands: Record<string, number> };
    };
    const before = await stats();
    await redis.echo("one");
    const p = redis.pipeline();
    p.echo("two");
    p.echo("three");
    await p.exec();
    const after = await stats();
    // Other suites share the sidecar, though hardly with ECHO: at least ours.
    expect((after.roundTrips.echo ?? 0) - (before.roundTrips.echo ?? 0)).toBeGreaterThanOrEqual(2);
    expect((after.commands.echo ?? 0) - (before.commands.echo ?? 0)).toBeGreaterThanOrEqual(3);
    const anonymous = await fetch(`${bindings.UPSTASH_REDIS_REST_URL}/stats`);
    expect(anonymous.status).toBe(401);
  });
});
