import { and, eq } from "drizzle-orm";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type Env, loadConfig } from "../../workers/config/env";
import { DecryptError, loadMasterKeys } from "../../workers/credentials/crypto";
import { RequestDb } from "../../workers/db/client";
import { loadCredential } from "../../workers/db/queries/credentials";
import { providerCredentials } from "../../workers/db/schema";
import { bindings, call, callWith, createTenant } from "./helpers";

const handle = new RequestDb(loadConfig({ ...bindings } as Env));
const db = handle.db;
afterAll(() => handle.close());

const keysNow = () => loadMasterKeys(bindings.RELAY_MASTER_KEY as string);

// Secrets must never reach a log: capture everything the Worker prints during these tests.
let printed: string[] = [];
beforeEach(() => {
  printed = [];
  for (const m of ["log", "info", "warn", "error", "debug"] as const) {
    vi.spyOn(console, m).mockImplementation((...args: unknown[]) => {
      printed.push(args.map(String).join(" "));
    });
  }
});
afterEach(() => vi.restoreAllMocks());

describe("BYOK credentials", () => {
  it("stores, lists without the secret, rotates by PUT, and deletes", async () => {
    const { apiKey, tenantId } = await createTenant();
    const secret = `sk-ant-${crypto.randomUUID()}`;
    const put = await call("/v1/credentials/anthropic", {
      method: "PUT",
      key: apiKey,
      json: { apiKey: secret, label: "prod" },
    });
    expect(put.status).toBe(201);
    expect(put.body.credential).toMatchObject({
      name: "anthropic",
      provider: "anthropic",
      label: "prod",
      baseUrl: null,
    });
    expect(put.text).not.toContain(secret);

    const list = await call("/v1/credentials", { key: apiKey });
    expect(list.body.credentials).toHaveLength(1);
    expect(list.text).not.toContain(secret);

    expect((await loadCredential(db, tenantId, "anthropic", await keysNow()))?.apiKey).toBe(secret);

    const rotated = `sk-ant-${crypto.randomUUID()}`;
    const again = await call("/v1/credentials/anthropic", {
      method: "PUT",
      key: apiKey,
      json: { apiKey: rotated },
    });
    expect(again.status).toBe(200);
    expect((await loadCredential(db, tenantId, "anthropic", await keysNow()))?.apiKey).toBe(rotated);

    const del = await call("/v1/credentials/anthropic", { method: "DELETE", key: apiKey });
    expect(del.status).toBe(200);
    expect((await call("/v1/credentials", { key: apiKey })).body.credentials).toEqual([]);
    expect((await call("/v1/credentials/anthropic", { method: "DELETE", key: apiKey })).status).toBe(404);

    const actions = (await call("/v1/audit", { key: apiKey })).body.events.map(
      (e: { action: string }) => e.action,
    );
    expect(actions).toEqual(
      expect.arrayContaining([
        "credential.created",
        "credential.updated",
        "credential.deleted",
        "api_key.created",
      ]),
    );
    const audit = await call("/v1/audit", { key: apiKey });
    expect(audit.text).not.toContain(secret);
    expect(audit.text).not.toContain(rotated);
    expect(printed.join("\n")).not.toContain(secret);
    expect(printed.join("\n")).not.toContain(rotated);
  });

  it("treats other names as OpenAI-compatible endpoints that need a baseUrl", async () => {
    const { apiKey } = await createTenant();
    const missing = await call("/v1/credentials/groq", {
      method: "PUT",
      key: apiKey,
      json: { apiKey: "gsk" },
    });
    expect(missing.status).toBe(400);
    expect(missing.body.error).toMatchObject({ code: "base_url_required", param: "baseUrl" });

    const ok = await call("/v1/credentials/groq", {
      method: "PUT",
      key: apiKey,
      json: { apiKey: "gsk", baseUrl: "https://api.groq.com/openai/v1/" },
    });
    expect(ok.status).toBe(201);
    expect(ok.body.credential).toMatchObject({
      provider: "openai_compatible",
      baseUrl: "https://api.groq.com/openai/v1",
    });

    const openaiProxy = await call("/v1/credentials/openai", {
      method: "PUT",
      key: apiKey,
      json: { apiKey: "sk", baseUrl: "https://proxy.example.com/v1" },
    });
    expect(openaiProxy.status).toBe(201);
    expect(openaiProxy.body.credential.provider).toBe("openai");
  });

  it("validates names, providers and bodies", async () => {
    const { apiKey } = await createTenant();
    const cases: [string, unknown, string][] = [
      [
        "/v1/credentials/Bad.Name",
        { apiKey: "x", baseUrl: "https://a.example.com" },
        "invalid_credential_name",
      ],
      [
        "/v1/credentials/local",
        { apiKey: "x", baseUrl: "https://a.example.com" },
        "reserved_credential_name",
      ],
      ["/v1/credentials/anthropic", { apiKey: "x", provider: "openai" }, "invalid_provider"],
      ["/v1/credentials/anthropic", { apiKey: "" }, "invalid_request"],
      ["/v1/credentials/anthropic", { key: "x" }, "invalid_request"],
      ["/v1/credentials/groq", { apiKey: "x", baseUrl: "ftp://a.example.com" }, "invalid_base_url"],
    ];
    for (const [path, json, code] of cases) {
      const res = await call(path, { method: "PUT", key: apiKey, json });
      expect(res.status, `${path} ${JSON.stringify(json)}`).toBe(400);
      expect(res.body.error.code).toBe(code);
    }
  });

  it("refuses private, loopback, link-local and metadata base URLs", async () => {
    const { apiKey } = await createTenant();
    for (const baseUrl of [
      "http://127.0.0.1:11434/v1",
      "http://localhost:8080",
      "http://169.254.169.254/latest/meta-data",
      "http://metadata.google.internal/computeMetadata",
      "http://10.0.0.5/v1",
      "http://192.168.1.10/v1",
      "http://[::1]/v1",
      "http://2130706433/v1",
      "http://[::ffff:127.0.0.1]/v1",
      "https://user:pass@api.example.com/v1",
    ]) {
      const res = await callWith({ RELAY_ALLOW_PRIVATE_UPSTREAMS: "false" }, "/v1/credentials/ollama", {
        method: "PUT",
        key: apiKey,
        json: { apiKey: "k", baseUrl },
      });
      expect(res.status, baseUrl).toBe(400);
      expect(res.body.error.code).toBe("invalid_base_url");
    }
  });

  it("allows private base URLs when RELAY_ALLOW_PRIVATE_UPSTREAMS=true", async () => {
    const { apiKey } = await createTenant();
    const res = await callWith({ RELAY_ALLOW_PRIVATE_UPSTREAMS: "true" }, "/v1/credentials/ollama", {
      method: "PUT",
      key: apiKey,
      json: { apiKey: "k", baseUrl: "http://127.0.0.1:11434/v1" },
    });
    expect(res.status).toBe(201);
  });

  it("never accepts a cloud metadata service, even with private upstreams allowed", async () => {
    const { apiKey } = await createTenant();
    for (const baseUrl of [
      "http://169.254.169.254/latest",
      "http://2852039166/latest",
      "http://0xa9fea9fe/latest",
      "http://[::ffff:a9fe:a9fe]/latest",
      "http://[fd00:ec2::254]/latest",
      "http://metadata.google.internal/computeMetadata/v1",
      "http://metadata.azure.com/metadata",
    ]) {
      const res = await callWith({ RELAY_ALLOW_PRIVATE_UPSTREAMS: "true" }, "/v1/credentials/ollama", {
        method: "PUT",
        key: apiKey,
        json: { baseUrl },
      });
      expect(res.status, baseUrl).toBe(400);
      expect(res.body.error.code).toBe("invalid_base_url");
      expect(res.body.error.message).toContain("metadata");
    }
  });

  it("lets a keyless local server go without an apiKey, and sends it none", async () => {
    const { apiKey } = await createTenant();
    const put = await call("/v1/credentials/ollama", {
      method: "PUT",
      key: apiKey,
      json: { baseUrl: `${bindings.MOCK_UPSTREAM_URL}/openai/v1` },
    });
    expect(put.status, put.text).toBe(201);
    expect(put.body.credential).toMatchObject({ name: "ollama", hasApiKey: false });
    const model = `llama3~${crypto.randomUUID()}`;
    const res = await call("/v1/chat/completions", {
      method: "POST",
      key: apiKey,
      json: { model: `ollama:${model}`, messages: [{ role: "user", content: "hi" }] },
    });
    // The mock answers 401 to a request without its key: relay sent none.
    expect(res.status).toBe(401);
    const seen = await (
      await fetch(`${bindings.MOCK_UPSTREAM_URL}/_mock/requests?model=${encodeURIComponent(model)}`)
    ).json();
    expect((seen as { headers: Record<string, string> }[])[0]?.headers.authorization).toBeUndefined();

    // Anthropic's and OpenAI's own APIs always need a key.
    const anthropic = await call("/v1/credentials/anthropic", { method: "PUT", key: apiKey, json: {} });
    expect(anthropic.status).toBe(400);
    expect(anthropic.body.error).toMatchObject({ code: "api_key_required", param: "apiKey" });
    const listed = await call("/v1/credentials", { key: apiKey });
    expect(listed.body.credentials).toEqual([expect.objectContaining({ name: "ollama", hasApiKey: false })]);
  });
});

describe("credential encryption at rest", () => {
  async function stored(tenantId: string, name: string) {
    const [row] = await db
      .select()
      .from(providerCredentials)
      .where(and(eq(providerCredentials.tenantId, tenantId), eq(providerCredentials.name, name)));
    if (!row) throw new Error("row missing");
    return row;
  }

  it("stores ciphertext, a 12-byte IV and a 16-byte tag, never the plaintext", async () => {
    const { apiKey, tenantId } = await createTenant();
    const secret = "sk-plaintext-must-not-be-stored";
    await call("/v1/credentials/openai", { method: "PUT", key: apiKey, json: { apiKey: secret } });
    const row = await stored(tenantId, "openai");
    expect(row.iv).toHaveLength(12);
    expect(row.authTag).toHaveLength(16);
    expect(new TextDecoder().decode(row.ciphertext)).not.toContain("plaintext");

    await call("/v1/credentials/openai", { method: "PUT", key: apiKey, json: { apiKey: secret } });
    const rewritten = await stored(tenantId, "openai");
    expect(Array.from(rewritten.iv)).not.toEqual(Array.from(row.iv)); // fresh IV per write
  });

  it("fails to decrypt a tampered row", async () => {
    const { apiKey, tenantId } = await createTenant();
    await call("/v1/credentials/openai", { method: "PUT", key: apiKey, json: { apiKey: "sk-tamper" } });
    const row = await stored(tenantId, "openai");
    const flipped = Uint8Array.from(row.ciphertext);
    flipped[0] = (flipped[0] as number) ^ 1;
    await db
      .update(providerCredentials)
      .set({ ciphertext: flipped })
      .where(and(eq(providerCredentials.tenantId, tenantId), eq(providerCredentials.name, "openai")));
    await expect(loadCredential(db, tenantId, "openai", await keysNow())).rejects.toBeInstanceOf(
      DecryptError,
    );
  });

  it("fails to decrypt a row copied to another tenant or renamed (AAD)", async () => {
    const a = await createTenant();
    const b = await createTenant();
    await call("/v1/credentials/openai", { method: "PUT", key: a.apiKey, json: { apiKey: "sk-tenant-a" } });
    const row = await stored(a.tenantId, "openai");
    await db.insert(providerCredentials).values({ ...row, tenantId: b.tenantId });
    await db.insert(providerCredentials).values({ ...row, name: "renamed" });
    const keys = await keysNow();
    await expect(loadCredential(db, b.tenantId, "openai", keys)).rejects.toBeInstanceOf(DecryptError);
    await expect(loadCredential(db, a.tenantId, "renamed", keys)).rejects.toBeInstanceOf(DecryptError);
    expect((await loadCredential(db, a.tenantId, "openai", keys))?.apiKey).toBe("sk-tenant-a");
  });

  it("keeps working during a master-key rotation through RELAY_MASTER_KEY_PREVIOUS", async () => {
    const { apiKey, tenantId } = await createTenant();
    await call("/v1/credentials/anthropic", {
      method: "PUT",
      key: apiKey,
      json: { apiKey: "sk-before-rotation" },
    });
    const next = Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) =>
      b.toString(16).padStart(2, "0"),
    ).join("");

    const rotating = await loadMasterKeys(next, bindings.RELAY_MASTER_KEY);
    const opened = await loadCredential(db, tenantId, "anthropic", rotating);
    expect(opened?.apiKey).toBe("sk-before-rotation");
    await expect(
      loadCredential(db, tenantId, "anthropic", await loadMasterKeys(next)),
    ).rejects.toBeInstanceOf(DecryptError);

    // A Worker running with the new key (and the old one as PREVIOUS) writes under the new key.
    const res = await callWith(
      { RELAY_MASTER_KEY: next, RELAY_MASTER_KEY_PREVIOUS: bindings.RELAY_MASTER_KEY as string },
      "/v1/credentials/anthropic",
      { method: "PUT", key: apiKey, json: { apiKey: "sk-after-rotation" } },
    );
    expect(res.status).toBe(200);
    expect((await loadCredential(db, tenantId, "anthropic", await loadMasterKeys(next)))?.apiKey).toBe(
      "sk-after-rotation",
    );
  });

  it("gives a clear configuration error when the master key is missing or malformed", async () => {
    const { apiKey } = await createTenant();
    for (const bad of ["", "too-short"]) {
      const res = await callWith({ RELAY_MASTER_KEY: bad }, "/v1/credentials/openai", {
        method: "PUT",
        key: apiKey,
        json: { apiKey: "sk-x" },
      });
      const body = res.body;
      expect(res.status).toBe(500);
      expect(body.error.code).toBe("configuration_error");
      expect(body.error.message).toContain("RELAY_MASTER_KEY");
    }
  });
});
