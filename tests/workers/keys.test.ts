import { describe, expect, it } from "vitest";
import { call, createTenant } from "./helpers";

describe("API keys", () => {
  it("creates a key whose secret is shown once, lists descriptors, and the new key works", async () => {
    const { apiKey } = await createTenant();
    const created = await call("/v1/keys", { method: "POST", key: apiKey, json: { name: "  ci runner  " } });
    expect(created.status).toBe(201);
    expect(created.body.apiKey).toMatch(/^relay_live_[A-Za-z0-9_-]{43}$/);
    expect(created.body.key).toMatchObject({ name: "ci runner", revokedAt: null, lastUsedAt: null });
    expect(created.body.key.prefix).toBe(`${created.body.apiKey.slice(0, 16)}…`);

    const list = await call("/v1/keys", { key: created.body.apiKey });
    expect(list.status).toBe(200);
    expect(list.body.keys).toHaveLength(2);
    expect(list.text).not.toContain(created.body.apiKey);
    expect(list.text).not.toContain(apiKey);
    expect(Object.keys(list.body.keys[0]).sort()).toEqual(
      ["createdAt", "id", "lastUsedAt", "limits", "name", "policy", "prefix", "revokedAt"].sort(),
    );
  });

  it("accepts an empty body and validates the name", async () => {
    const { apiKey } = await createTenant();
    const bare = await call("/v1/keys", {
      method: "POST",
      key: apiKey,
      headers: { "content-type": "application/json" },
    });
    expect(bare.status).toBe(201);
    const long = await call("/v1/keys", { method: "POST", key: apiKey, json: { name: "x".repeat(121) } });
    expect(long.status).toBe(400);
    expect(long.body.error.param).toBe("name");
    const extra = await call("/v1/keys", {
      method: "POST",
      key: apiKey,
      json: { name: "a", tenantId: "other" },
    });
    expect(extra.status).toBe(400);
  });

  it("revokes a key: it stops working at once and the audit log says so", async () => {
    const { apiKey, keyId } = await createTenant();
    const second = await call("/v1/keys", { method: "POST", key: apiKey, json: { name: "to revoke" } });
    expect((await call("/v1/keys", { key: second.body.apiKey })).status).toBe(200); // cached now

    const revoked = await call(`/v1/keys/${second.body.key.id}`, { method: "DELETE", key: apiKey });
    expect(revoked.status).toBe(200);
    expect(revoked.body.revoked).toBe(true);
    expect(revoked.body.key.revokedAt).toBeTruthy();

    const after = await call("/v1/keys", { key: second.body.apiKey });
    expect(after.status).toBe(401);

    const audit = await call("/v1/audit?action=api_key.revoked", { key: apiKey });
    expect(audit.body.events).toHaveLength(1);
    expect(audit.body.events[0]).toMatchObject({ actor: `api_key:${keyId}`, targetId: second.body.key.id });

    // Idempotent: revoking again answers the same descriptor.
    const again = await call(`/v1/keys/${second.body.key.id}`, { method: "DELETE", key: apiKey });
    expect(again.status).toBe(200);
    expect(again.body.key.revokedAt).toBe(revoked.body.key.revokedAt);
  });

  it("pages the audit log from (time, id), so events of one transaction are neither skipped nor repeated", async () => {
    const { apiKey } = await createTenant(); // tenant.created and api_key.created share a timestamp
    for (let i = 0; i < 3; i++)
      await call("/v1/keys", { method: "POST", key: apiKey, json: { name: `k${i}` } });
    const all = (await call("/v1/audit?limit=100", { key: apiKey })).body;
    expect(all.events).toHaveLength(5);
    expect(all.nextCursor).toBeNull();
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await call(
        `/v1/audit?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
        {
          key: apiKey,
        },
      );
      expect(page.status).toBe(200);
      seen.push(...page.body.events.map((e: any) => e.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(all.events.map((e: any) => e.id));
    const bad = await call("/v1/audit?cursor=nope", { key: apiKey });
    expect(bad.status).toBe(400);
    expect(bad.body.error.param).toBe("cursor");
  });

  it("needs ?force=true to revoke the calling key", async () => {
    const { apiKey, keyId } = await createTenant();
    const refused = await call(`/v1/keys/${keyId}`, { method: "DELETE", key: apiKey });
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe("self_revocation_requires_force");
    expect((await call("/v1/keys", { key: apiKey })).status).toBe(200);

    const forced = await call(`/v1/keys/${keyId}?force=true`, { method: "DELETE", key: apiKey });
    expect(forced.status).toBe(200);
    expect((await call("/v1/keys", { key: apiKey })).status).toBe(401);
  });

  it("answers 404 for unknown ids", async () => {
    const { apiKey } = await createTenant();
    expect((await call(`/v1/keys/${crypto.randomUUID()}`, { method: "DELETE", key: apiKey })).status).toBe(
      404,
    );
    expect((await call("/v1/keys/not-a-uuid", { method: "DELETE", key: apiKey })).status).toBe(404);
  });

  it("records when a key was last used", async () => {
    const { apiKey } = await createTenant();
    await call("/v1/keys", { key: apiKey });
    // The touch runs after the response (waitUntil); poll briefly.
    let lastUsedAt: string | null = null;
    for (let i = 0; i < 20 && !lastUsedAt; i++) {
      await new Promise((r) => setTimeout(r, 100));
      lastUsedAt = (await call("/v1/keys", { key: apiKey })).body.keys[0].lastUsedAt;
    }
    expect(lastUsedAt).toBeTruthy();
  });
});

describe("tenant isolation", () => {
  it("tenant A can neither see nor change B's keys or credentials", async () => {
    const a = await createTenant();
    const b = await createTenant();
    await call("/v1/credentials/anthropic", {
      method: "PUT",
      key: b.apiKey,
      json: { apiKey: "sk-ant-b-secret" },
    });

    const aKeys = await call("/v1/keys", { key: a.apiKey });
    expect(aKeys.body.keys.map((k: { id: string }) => k.id)).toEqual([a.keyId]);
    expect((await call(`/v1/keys/${b.keyId}?force=true`, { method: "DELETE", key: a.apiKey })).status).toBe(
      404,
    );
    expect((await call("/v1/keys", { key: b.apiKey })).status).toBe(200);

    expect((await call("/v1/credentials", { key: a.apiKey })).body.credentials).toEqual([]);
    expect((await call("/v1/credentials/anthropic", { method: "DELETE", key: a.apiKey })).status).toBe(404);
    expect((await call("/v1/credentials", { key: b.apiKey })).body.credentials).toHaveLength(1);

    // A writing a credential of the same name touches only its own.
    await call("/v1/credentials/anthropic", {
      method: "PUT",
      key: a.apiKey,
      json: { apiKey: "sk-ant-a-secret" },
    });
    const bAfter = await call("/v1/credentials", { key: b.apiKey });
    expect(bAfter.body.credentials).toHaveLength(1);
    expect(bAfter.body.credentials[0].updatedAt).toBe(bAfter.body.credentials[0].createdAt);

    const aAudit = await call("/v1/audit", { key: a.apiKey });
    expect(JSON.stringify(aAudit.body)).not.toContain(b.tenantId);
  });
});
