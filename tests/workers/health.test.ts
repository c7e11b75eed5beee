import { describe, expect, inject, it } from "vitest";
import { call, callWith } from "./helpers";

describe("health and readiness", () => {
  it("answers /health without touching dependencies, with a request id", async () => {
    const res = await call("/health");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: "ok" });
    expect(res.headers.get("x-request-id")).toMatch(/^req_[0-9a-f]{32}$/);
  });

  it("says what it is at the base URL", async () => {
    const res = await call("/");
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: "relay", links: { health: "/health", openai_base_url: "/v1" } });
    expect(res.body.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("keeps the caller's request id", async () => {
    const res = await call("/health", { headers: { "x-request-id": "trace-42.abc" } });
    expect(res.headers.get("x-request-id")).toBe("trace-42.abc");
    const odd = await call("/health", { headers: { "x-request-id": "has spaces and <html>" } });
    expect(odd.headers.get("x-request-id")).not.toBe("has spaces and <html>");
  });

  it("is ready when Postgres (through the Neon driver and the proxy) and Redis answer", async () => {
    const res = await call("/readyz");
    expect(res.status).toBe(200);
    expect(res.body.status).toBe("ready");
    expect(res.body.checks.postgres.ok).toBe(true);
    expect(res.body.checks.redis).toMatchObject({ ok: true });
    expect(res.body.checks.redis.configured).not.toBe(false);
  });

  const readyzWith = (overrides: Record<string, string>) => callWith(overrides, "/readyz");

  it("goes red with 503 and says Postgres is failing when Postgres is down", async () => {
    const res = await readyzWith({ DATABASE_URL: inject("deadDatabaseUrl") });
    expect(res.status).toBe(503);
    expect(res.body.status).toBe("not_ready");
    expect(res.body.checks.postgres.ok).toBe(false);
    expect(res.body.checks.postgres.error).toBeTruthy();
    expect(res.body.checks.redis.ok).toBe(true);
  });

  it("goes red when Redis is down", async () => {
    const res = await readyzWith({ UPSTASH_REDIS_REST_URL: "http://127.0.0.1:9/redis" });
    expect(res.status).toBe(503);
    expect(res.body.checks.redis.ok).toBe(false);
    expect(res.body.checks.postgres.ok).toBe(true);
  });

  it("reports an invalid configuration instead of crashing", async () => {
    const res = await readyzWith({ DATABASE_URL: "not a url" });
    expect(res.status).toBe(503);
    expect(JSON.stringify(res.body)).toContain("DATABASE_URL");
  });

  it("answers unknown routes with a 404 in the envelope", async () => {
    const res = await call("/nope");
    expect(res.status).toBe(404);
    expect(res.body.error).toMatchObject({ type: "not_found_error", code: "route_not_found" });
    expect(res.body.error.request_id).toBe(res.headers.get("x-request-id"));
  });
});
