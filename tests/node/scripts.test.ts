import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "../../common/bytes";
import { connectUrl, type NodeDatabase } from "../../scripts/lib/database";
import { loadMasterKeys } from "../../workers/credentials/crypto";
import { loadCredential } from "../../workers/db/queries/credentials";
import { runScript } from "../helpers/run";
import { createTestDatabase, randomHex, type TestDatabase } from "../helpers/stack";

let database: TestDatabase;
let handle: NodeDatabase;

beforeAll(async () => {
  database = await createTestDatabase({ migrate: false });
  handle = await connectUrl(database.url);
});
afterAll(async () => {
  await handle?.close();
  await database?.drop();
});

const query = async <T>(sql: string, params: unknown[] = []) =>
  (
    await (
      handle.db as unknown as { $client: { query: (s: string, p: unknown[]) => Promise<{ rows: T[] }> } }
    ).$client.query(sql, params)
  ).rows;

describe("npm run db:migrate", () => {
  it("applies the migrations to DATABASE_URL and is idempotent", async () => {
    const first = await runScript("db:migrate", [], { DATABASE_URL: database.url });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain("migrations applied");
    const again = await runScript("db:migrate", [], { DATABASE_URL: database.url });
    expect(again.code).toBe(0);
    const tables = await query<{ table_name: string }>(
      "select table_name from information_schema.tables where table_schema = 'public' order by 1",
    );
    expect(tables.map((t) => t.table_name)).toEqual([
      "api_keys",
      "audit_events",
      "console_sessions",
      "guardrail_executions",
      "guardrails",
      "livekit_events",
      "provider_credentials",
      "run_events",
      "runs",
      "tenants",
      "usage_events",
    ]);
  });

  it("prints the failing statement and the database's error, and exits non-zero", async () => {
    const broken = await createTestDatabase({ migrate: false });
    const pre = await connectUrl(broken.url);
    try {
      await (pre.db as unknown as { execute: (q: string) => Promise<unknown> }).execute(
        'create table "tenants" (something int)',
      );
    } finally {
      await pre.close();
    }
    try {
      const res = await runScript("db:migrate", [], { DATABASE_URL: broken.url });
      expect(res.code).toBe(1);
      expect(res.stderr).toContain('relation "tenants" already exists');
      expect(res.stderr).toContain('CREATE TABLE "tenants"');
    } finally {
      await broken.drop();
    }
  });
});

describe("npm run bootstrap", () => {
  const masterKey = randomHex(32);

  it("--json prints exactly one JSON object with a working key, and stores env credentials encrypted", async () => {
    const res = await runScript("bootstrap", ["--json", "--tenant", "acme"], {
      DATABASE_URL: database.url,
      RELAY_MASTER_KEY: masterKey,
      ANTHROPIC_API_KEY: "sk-ant-from-env",
      OPENAI_API_KEY: "sk-openai-from-env",
      OPENAI_BASE_URL: "https://openai-proxy.example.com/v1/",
    });
    expect(res.code, res.stderr).toBe(0);
    const lines = res.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    const out = JSON.parse(lines[0] as string);
    expect(Object.keys(out).sort()).toEqual(["apiKey", "tenantId"]);
    expect(out.apiKey).toMatch(/^relay_live_[A-Za-z0-9_-]{43}$/);
    expect(res.stderr).not.toContain("sk-ant-from-env");

    const [key] = await query<{ tenant_id: string; hashed_secret: string }>(
      "select tenant_id, hashed_secret from api_keys where hashed_secret = $1",
      [await sha256Hex(out.apiKey)],
    );
    expect(key?.tenant_id).toBe(out.tenantId);
    const raw = await query<{ name: string; base_url: string | null }>(
      "select name, base_url from provider_credentials where tenant_id = $1 order by name",
      [out.tenantId],
    );
    expect(raw).toEqual([
      { name: "anthropic", base_url: null },
      { name: "openai", base_url: "https://openai-proxy.example.com/v1" },
    ]);
    const keys = await loadMasterKeys(masterKey);
    expect((await loadCredential(handle.db, out.tenantId, "openai", keys))?.apiKey).toBe(
      "sk-openai-from-env",
    );
  });

  it("reuses an existing tenant and issues another key", async () => {
    const res = await runScript("bootstrap", ["--json", "--tenant", "acme"], { DATABASE_URL: database.url });
    expect(res.code, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout);
    const keys = await query<{ id: string }>("select id from api_keys where tenant_id = $1", [out.tenantId]);
    expect(keys).toHaveLength(2);
    expect(res.stderr).toContain("already exists");
  });

  it("refuses to store credentials without a master key, and bad flags", async () => {
    const noKey = await runScript("bootstrap", ["--json"], {
      DATABASE_URL: database.url,
      RELAY_MASTER_KEY: "",
      OPENAI_API_KEY: "sk-x",
    });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain("RELAY_MASTER_KEY");
    // Nothing of bootstrap's on stdout: at most npm's own error report (json mode, see .npmrc).
    expect(noKey.stdout).not.toContain("relay_live_");
    expect(JSON.parse(noKey.stdout || "{}")).not.toHaveProperty("apiKey");
    const bad = await runScript("bootstrap", ["--nope"], { DATABASE_URL: database.url });
    expect(bad.code).toBe(2);
  });
});

describe("npm run rotate-master-key", () => {
  it("re-encrypts every credential under the new key, so the old key can be dropped", async () => {
    const oldKey = randomHex(32);
    const newKey = randomHex(32);
    const boot = await runScript("bootstrap", ["--json", "--tenant", "rotating"], {
      DATABASE_URL: database.url,
      RELAY_MASTER_KEY: oldKey,
      OPENAI_API_KEY: "sk-rotate-me",
    });
    expect(boot.code, boot.stderr).toBe(0);
    const { tenantId } = JSON.parse(boot.stdout);

    // Without PREVIOUS the old rows cannot be opened: reported, left untouched, non-zero exit.
    const blind = await runScript("rotate-master-key", [], {
      DATABASE_URL: database.url,
      RELAY_MASTER_KEY: newKey,
    });
    expect(blind.code).toBe(1);
    expect(blind.stderr).toContain("open under neither");
    expect((await loadCredential(handle.db, tenantId, "openai", await loadMasterKeys(oldKey)))?.apiKey).toBe(
      "sk-rotate-me",
    );

    const res = await runScript("rotate-master-key", [], {
      DATABASE_URL: database.url,
      RELAY_MASTER_KEY: newKey,
      RELAY_MASTER_KEY_PREVIOUS: oldKey,
    });
    // Rows of the first bootstrap test use yet another key; only this tenant's must succeed.
    expect(res.stdout + res.stderr).toMatch(/re-encrypted \d+ credential/);
    const opened = await loadCredential(handle.db, tenantId, "openai", await loadMasterKeys(newKey));
    expect(opened?.apiKey).toBe("sk-rotate-me");
    const audit = await query<{ action: string }>(
      "select action from audit_events where tenant_id = $1 and action = 'master_key.rotated'",
      [tenantId],
    );
    expect(audit).toHaveLength(1);
  });
});
