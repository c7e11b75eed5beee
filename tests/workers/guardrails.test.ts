import { describe, expect, it } from "vitest";
import { bindings, call, createTenant } from "./helpers";

// The operator's guardrail catalog. Tests never create default-on guardrails: the catalog is global
// and other suites run beside this one.

const MOCK = bindings.MOCK_UPSTREAM_URL as string;
const admin = { authorization: `Bearer ${bindings.RELAY_ADMIN_TOKEN}` };
const unique = (base: string) => `${base}-${crypto.randomUUID().slice(0, 8)}`;

describe("the guardrail catalog", () => {
  it("comes with pii-redact: every mode, fail closed, restoring placeholders, not on by default", async () => {
    const res = await call("/admin/guardrails", { headers: admin });
    expect(res.status).toBe(200);
    expect(res.body.guardrails.find((g: any) => g.name === "pii-redact")).toMatchObject({
      kind: "builtin",
      modes: ["pre_call", "post_call", "during_call"],
      defaultOn: false,
      failurePolicy: "fail_closed",
      config: { restore_output: true },
      enabled: true,
    });
  });

  it("creates, changes and deletes http guardrails, never showing their token", async () => {
    const name = unique("toxicity");
    const token = `guard-token-${crypto.randomUUID()}`;
    const created = await call("/admin/guardrails", {
      method: "POST",
      headers: admin,
      json: {
        name,
        kind: "http",
        modes: ["pre_call", "post_call"],
        endpointUrl: `${MOCK}/guardrail/allow`,
        timeoutMs: 500,
        bearerToken: token,
        config: { threshold: 0.5 },
        configSchema: { type: "object", properties: { threshold: { type: "number", maximum: 1 } } },
      },
    });
    expect(created.status, created.text).toBe(201);
    expect(created.body.guardrail).toMatchObject({
      name,
      kind: "http",
      hasToken: true,
      failurePolicy: "fail_closed",
    });
    expect(created.text).not.toContain(token);
    const listed = await call("/admin/guardrails", { headers: admin });
    expect(listed.text).not.toContain(token);

    expect(
      (
        await call("/admin/guardrails", {
          method: "POST",
          headers: admin,
          json: { name, kind: "http", endpointUrl: `${MOCK}/g` },
        })
      ).status,
    ).toBe(409);
    const badConfig = await call(`/admin/guardrails/${name}`, {
      method: "PATCH",
      headers: admin,
      json: { config: { threshold: 5 } },
    });
    expect(badConfig.status).toBe(400);
    expect(badConfig.body.error.code).toBe("invalid_guardrail_config");
    const patched = await call(`/admin/guardrails/${name}`, {
      method: "PATCH",
      headers: admin,
      json: { config: { threshold: 0.9 }, failurePolicy: "fail_open", bearerToken: null },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.guardrail).toMatchObject({
      config: { threshold: 0.9 },
      failurePolicy: "fail_open",
      hasToken: false,
    });
    expect((await call(`/admin/guardrails/${name}`, { method: "DELETE", headers: admin })).status).toBe(204);
    expect((await call(`/admin/guardrails/${name}`, { method: "DELETE", headers: admin })).status).toBe(404);
  });

  it("refuses what cannot work", async () => {
    const post = (json: unknown) => call("/admin/guardrails", { method: "POST", headers: admin, json });
    const during = await post({
      name: unique("g"),
      kind: "http",
      modes: ["during_call"],
      endpointUrl: `${MOCK}/g`,
    });
    expect(during.body.error.code).toBe("invalid_modes");
    const metadata = await post({
      name: unique("g"),
      kind: "http",
      endpointUrl: "http://169.254.169.254/latest",
    });
    expect(metadata.body.error.code).toBe("invalid_endpoint_url");
    expect((await post({ name: unique("g"), kind: "http" })).body.error.code).toBe("endpoint_url_required");
    expect((await post({ name: "Bad Name", kind: "http", endpointUrl: `${MOCK}/g` })).body.error.code).toBe(
      "invalid_guardrail_name",
    );
    const builtin = await call("/admin/guardrails/pii-redact", { method: "DELETE", headers: admin });
    expect(builtin.body.error.code).toBe("builtin_guardrail");
    const piiConfig = await call("/admin/guardrails/pii-redact", {
      method: "PATCH",
      headers: admin,
      json: { config: { categories: ["email", "fingerprints"] } },
    });
    expect(piiConfig.body.error.code).toBe("invalid_guardrail_config");
    // Tenants do not reach the catalog.
    const { apiKey } = await createTenant();
    expect((await call("/admin/guardrails", { key: apiKey })).status).toBe(401);
  });
});
