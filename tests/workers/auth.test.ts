import { describe, expect, it } from "vitest";
import { call, createTenant } from "./helpers";

describe("API-key authentication", () => {
  it("refuses a request without a key", async () => {
    const res = await call("/v1/keys");
    expect(res.status).toBe(401);
    expect(res.body.error).toMatchObject({
      type: "authentication_error",
      code: "missing_api_key",
      param: null,
    });
    expect(res.body.error.request_id).toBeTruthy();
  });

  it("refuses malformed, unknown and wrongly presented keys", async () => {
    const unknown = `relay_live_${"A".repeat(43)}`;
    const attempts: Record<string, string>[] = [
      { authorization: "Bearer nope" },
      { authorization: `Bearer ${unknown}` },
      { "x-api-key": unknown },
      { authorization: `Basic ${btoa("a:b")}` },
      { authorization: "Bearer relay_live_short" },
    ];
    for (const headers of attempts) {
      const res = await call("/v1/keys", { headers });
      expect(res.status, JSON.stringify(headers)).toBe(401);
      expect(res.body.error.type).toBe("authentication_error");
      // The presented key is never echoed back.
      expect(res.text).not.toContain(unknown);
    }
  });

  it("accepts the key as a Bearer token and as x-api-key", async () => {
    const { apiKey } = await createTenant();
    expect((await call("/v1/keys", { headers: { authorization: `Bearer ${apiKey}` } })).status).toBe(200);
    expect((await call("/v1/keys", { headers: { authorization: `bearer  ${apiKey}` } })).status).toBe(200);
    expect((await call("/v1/keys", { headers: { "x-api-key": apiKey } })).status).toBe(200);
  });
});

describe("operator endpoints", () => {
  it("need the admin token", async () => {
    expect((await call("/admin/tenants")).status).toBe(401);
    const wrong = await call("/admin/tenants", {
      headers: { authorization: "Bearer wrong-token-wrong-token" },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe("invalid_admin_token");
  });

  it("refuse a duplicate tenant name", async () => {
    const name = `dup-${crypto.randomUUID()}`;
    await createTenant(name);
    await expect(createTenant(name)).rejects.toThrow(/409/);
  });

  it("do not accept an API key as the admin token", async () => {
    const { apiKey } = await createTenant();
    expect((await call("/admin/tenants", { key: apiKey })).status).toBe(401);
  });
});
