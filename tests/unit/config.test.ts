import { describe, expect, it } from "vitest";
import { RelayError } from "../../common/errors";
import { loadSidecarConfig } from "../../sidecar/src/config";
import { loadConfig, required } from "../../workers/config/env";

describe("Worker configuration", () => {
  it("applies defaults and parses flags", () => {
    const config = loadConfig({ RELAY_ALLOW_PRIVATE_UPSTREAMS: "true" });
    expect(config.RELAY_KEY_CACHE_TTL_MS).toBe(5000);
    expect(config.MAX_REQUEST_BODY_BYTES).toBe(1_048_576);
    expect(config.RELAY_ALLOW_PRIVATE_UPSTREAMS).toBe(true);
    expect(loadConfig({}).RELAY_ALLOW_PRIVATE_UPSTREAMS).toBe(false);
  });

  it("names a bad variable without echoing its value", () => {
    try {
      loadConfig({ DATABASE_URL: "mysql://user:hunter2@db/x" });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(RelayError);
      expect((err as Error).message).toContain("DATABASE_URL");
      expect((err as Error).message).not.toContain("hunter2");
    }
    expect(() => loadConfig({ RELAY_KEY_CACHE_TTL_MS: "60000" })).toThrow(/RELAY_KEY_CACHE_TTL_MS/);
  });

  it("makes a missing required secret a clear error", () => {
    expect(() => required(loadConfig({}), "RELAY_MASTER_KEY")).toThrow(/RELAY_MASTER_KEY is not set/);
  });
});

describe("sidecar configuration", () => {
  it("validates at start with messages naming the variable", () => {
    expect(loadSidecarConfig({}).RELAY_SIDECAR_PORT).toBe(8790);
    expect(() => loadSidecarConfig({ RELAY_PG_PROXY_TARGETS: "db.example.com" })).toThrow(
      /RELAY_PG_PROXY_TARGETS/,
    );
    expect(() => loadSidecarConfig({ REDIS_URL: "http://x" })).toThrow(/REDIS_URL/);
    expect(() => loadSidecarConfig({ RELAY_REDIS_REST_TOKEN: "x".repeat(20) })).toThrow(/needs REDIS_URL/);
    expect(
      loadSidecarConfig({ RELAY_PG_PROXY_TARGETS: "127.0.0.1:5432, [::1]:5433" }).RELAY_PG_PROXY_TARGETS,
    ).toEqual(["127.0.0.1:5432", "[::1]:5433"]);
  });
});
