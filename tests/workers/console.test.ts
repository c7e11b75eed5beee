import { exports } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { decodeJwt } from "jose";
import { afterAll, describe, expect, it } from "vitest";
import { type Env, loadConfig } from "../../workers/config/env";
import { signSessionToken } from "../../workers/console/tokens";
import { RequestDb } from "../../workers/db/client";
import { consoleSessions, guardrailExecutions } from "../../workers/db/schema";
import { gatewayTenant, MOCK } from "./gateway-helpers";
import { BASE, bindings, call, callWith, createTenant } from "./helpers";

// The web console's sessions: what the cookie is and carries, CSRF, expiry, sign-out, revocation,
// and that a session reaches its own tenant's data only.

const self = (exports as unknown as { default: Fetcher }).default;
const config = loadConfig({ ...bindings } as Env);
const handle = new RequestDb(config);
afterAll(() => handle.close());

const COOKIE = "__Host-relay_session"; // BASE is not a loopback host, so the cookie is Secure

interface Signed {
  cookie: string;
  csrf: string;
  setCookie: string;
  body: any;
}

function cookieOf(setCookie: string | null, name = COOKIE): string {
  const match = new RegExp(`${name}=([^;]*)`).exec(setCookie ?? "");
  if (!match?.[1]) throw new Error(`no ${name} cookie in ${setCookie}`);
  return match[1];
}

async function signIn(body: Record<string, string>): Promise<Signed> {
  const res = await call("/console/api/session", { method: "POST", json: body });
  if (res.status !== 201) throw new Error(`sign-in failed: ${res.status} ${res.text}`);
  const setCookie = res.headers.get("set-cookie") ?? "";
  return { cookie: cookieOf(setCookie), csrf: res.body.session.csrfToken, setCookie, body: res.body };
}

/** A console API call with the session cookie (and the CSRF token unless told otherwise). */
function withSession(
  s: Pick<Signed, "cookie" | "csrf">,
  path: string,
  init: { method?: string; json?: unknown; csrf?: string | null; headers?: Record<string, string> } = {},
) {
  const headers: Record<string, string> = { cookie: `${COOKIE}=${s.cookie}`, ...init.headers };
  const csrf = init.csrf === undefined ? s.csrf : init.csrf;
  if (csrf !== null) headers["x-csrf-token"] = csrf;
  return call(path, { method: init.method, json: init.json, headers });
}

describe("console sign-in", () => {
  it("sets an HttpOnly, Secure, SameSite=Strict session cookie that holds neither the key nor the token", async () => {
    const { apiKey, tenantId } = await createTenant();
    const s = await signIn({ apiKey });
    expect(s.setCookie).toMatch(/^__Host-relay_session=[^;]+;/);
    expect(s.setCookie).toMatch(/; HttpOnly/);
    expect(s.setCookie).toMatch(/; Secure/);
    expect(s.setCookie).toMatch(/; SameSite=Strict/);
    expect(s.setCookie).toMatch(/; Path=\//);
    expect(s.setCookie).toMatch(/; Max-Age=1800/);
    expect(s.setCookie).not.toMatch(/Domain=/i);
    expect(s.cookie).not.toContain(apiKey);
    const claims = decodeJwt(s.cookie);
    expect(Object.keys(claims).sort()).toEqual(["aud", "exp", "iat", "iss", "sub"]);
    expect(JSON.stringify(claims)).not.toContain(tenantId);
    expect(s.body.session).toMatchObject({
      kind: "tenant",
      tenant: { id: tenantId },
      idleTimeoutSeconds: 1800,
    });
    expect(JSON.stringify(s.body)).not.toContain(apiKey);

    const operator = await signIn({ adminToken: bindings.RELAY_ADMIN_TOKEN as string });
    expect(operator.cookie).not.toContain(bindings.RELAY_ADMIN_TOKEN);
    const [row] = await handle.db
      .select()
      .from(consoleSessions)
      .where(eq(consoleSessions.id, decodeJwt(operator.cookie).sub as string));
    expect(row?.kind).toBe("operator");
    expect(JSON.stringify(row)).not.toContain(bindings.RELAY_ADMIN_TOKEN);
  });

  it("on a loopback address the cookie is not Secure (npm run dev serves http)", async () => {
    const { apiKey } = await createTenant();
    const res = await self.fetch("http://127.0.0.1:8999/console/api/session", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ apiKey }),
    });
    expect(res.status).toBe(201);
    const setCookie = res.headers.get("set-cookie") ?? "";
    expect(setCookie).toMatch(/^relay_session=/);
    expect(setCookie).toMatch(/; HttpOnly/);
    expect(setCookie).toMatch(/; SameSite=Strict/);
    expect(setCookie).not.toMatch(/; Secure/);
    await res.body?.cancel();
  });

  it("refuses wrong secrets with the API's messages, and sign-ins from other sites", async () => {
    const bad = await call("/console/api/session", { method: "POST", json: { apiKey: "relay_live_nope" } });
    expect(bad.status).toBe(401);
    expect(bad.body.error).toMatchObject({ code: "invalid_api_key" });
    expect(bad.headers.get("set-cookie")).toBeNull();
    const admin = await call("/console/api/session", {
      method: "POST",
      json: { adminToken: "x".repeat(32) },
    });
    expect(admin.status).toBe(401);
    expect(admin.body.error.code).toBe("invalid_admin_token");
    const { apiKey } = await createTenant();
    const crossSite = await call("/console/api/session", {
      method: "POST",
      json: { apiKey },
      headers: { "sec-fetch-site": "cross-site" },
    });
    expect(crossSite.status).toBe(403);
    expect(crossSite.body.error.code).toBe("cross_site_request");
    // A form post cannot sign anyone in: the body must be JSON, which other sites cannot send.
    const form = await call("/console/api/session", {
      method: "POST",
      body: `apiKey=${apiKey}`,
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(form.status).toBe(415);
  });
});

describe("console sessions", () => {
  it("reads the tenant's data through the API's own routes, and needs a session", async () => {
    const { apiKey, keyId } = await createTenant();
    const s = await signIn({ apiKey });
    const keys = await withSession(s, "/console/api/keys");
    expect(keys.status).toBe(200);
    expect(keys.body.keys.map((k: any) => k.id)).toEqual([keyId]);
    for (const path of [
      "/console/api/credentials",
      "/console/api/usage",
      "/console/api/audit",
      "/console/api/models",
    ]) {
      expect((await withSession(s, path)).status, path).toBe(200);
    }
    const none = await call("/console/api/keys");
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe("session_required");
    const forged = await call("/console/api/keys", { headers: { cookie: `${COOKIE}=${s.cookie}x` } });
    expect(forged.status).toBe(401);
    // An API key is not a session: the console API does not take one.
    expect((await call("/console/api/keys", { key: apiKey })).status).toBe(401);
  });

  it("refuses changes without the session's CSRF token or from another site", async () => {
    const { apiKey } = await createTenant();
    const s = await signIn({ apiKey });
    const other = await signIn({ apiKey });
    const missing = await withSession(s, "/console/api/keys", {
      method: "POST",
      json: { name: "x" },
      csrf: null,
    });
    expect(missing.status).toBe(403);
    expect(missing.body.error.code).toBe("invalid_csrf_token");
    // Another session's token is no good either.
    const wrong = await withSession(s, "/console/api/keys", {
      method: "POST",
      json: { name: "x" },
      csrf: other.csrf,
    });
    expect(wrong.status).toBe(403);
    const crossSite = await withSession(s, "/console/api/keys", {
      method: "POST",
      json: { name: "x" },
      headers: { "sec-fetch-site": "cross-site" },
    });
    expect(crossSite.status).toBe(403);
    for (const [method, path] of [
      ["PUT", "/console/api/credentials/groq"],
      ["DELETE", "/console/api/credentials/groq"],
      ["DELETE", "/console/api/session"],
    ] as const) {
      const res = await withSession(s, path, {
        method,
        json: method === "PUT" ? { apiKey: "k" } : undefined,
        csrf: null,
      });
      expect(res.status, `${method} ${path}`).toBe(403);
    }
    const ok = await withSession(s, "/console/api/keys", {
      method: "POST",
      json: { name: "from the console" },
    });
    expect(ok.status).toBe(201);
    expect(ok.body.apiKey).toMatch(/^relay_live_/);
  });

  it("expires: an old token, and a session past its absolute end, are refused", async () => {
    const { apiKey } = await createTenant();
    const s = await signIn({ apiKey });
    const sid = decodeJwt(s.cookie).sub as string;
    const lapsed = await signSessionToken(
      config,
      sid,
      new Date(Date.now() - 1000),
      new Date(Date.now() - 1_801_000),
    );
    const res = await withSession({ cookie: lapsed, csrf: s.csrf }, "/console/api/keys");
    expect(res.status).toBe(401);
    expect(res.headers.get("set-cookie")).toMatch(/__Host-relay_session=;.*Max-Age=0/);

    await handle.db
      .update(consoleSessions)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(consoleSessions.id, sid));
    expect((await withSession(s, "/console/api/keys")).status).toBe(401);
  });

  it("slides: a token older than a minute is renewed, a fresh one is not", async () => {
    const { apiKey } = await createTenant();
    const s = await signIn({ apiKey });
    const sid = decodeJwt(s.cookie).sub as string;
    const fresh = await withSession(s, "/console/api/keys");
    expect(fresh.headers.get("set-cookie")).toBeNull();
    const old = await signSessionToken(
      config,
      sid,
      new Date(Date.now() + 600_000),
      new Date(Date.now() - 120_000),
    );
    const renewed = await withSession({ cookie: old, csrf: s.csrf }, "/console/api/keys");
    expect(renewed.status).toBe(200);
    const next = decodeJwt(cookieOf(renewed.headers.get("set-cookie")));
    expect(next.sub).toBe(sid);
    expect((next.exp as number) - (next.iat as number)).toBe(1800);
    expect(next.iat as number).toBeGreaterThan(Date.now() / 1000 - 10);
  });

  it("sign-out revokes the session on the server", async () => {
    const { apiKey, tenantId } = await createTenant();
    const s = await signIn({ apiKey });
    const out = await withSession(s, "/console/api/session", { method: "DELETE" });
    expect(out.status).toBe(200);
    expect(out.headers.get("set-cookie")).toMatch(/__Host-relay_session=;.*Max-Age=0/);
    // The cookie the browser had (or a copy of it) is dead.
    const after = await withSession(s, "/console/api/keys");
    expect(after.status).toBe(401);
    const audit = await call(`/v1/audit?limit=10`, { key: apiKey });
    expect(audit.body.events.map((e: any) => e.action)).toEqual(
      expect.arrayContaining(["console.signed_in", "console.signed_out"]),
    );
    expect(tenantId).toBeTruthy();
  });

  it("ends when the key it signed in with is revoked", async () => {
    const { apiKey } = await createTenant();
    const second = await call("/v1/keys", { method: "POST", key: apiKey, json: { name: "laptop" } });
    const s = await signIn({ apiKey: second.body.apiKey });
    expect((await withSession(s, "/console/api/keys")).status).toBe(200);
    const revoke = await call(`/v1/keys/${second.body.key.id}`, { method: "DELETE", key: apiKey });
    expect(revoke.status).toBe(200);
    const after = await withSession(s, "/console/api/keys");
    expect(after.status).toBe(401);
    // And a revoked key cannot open a new one.
    const again = await call("/console/api/session", {
      method: "POST",
      json: { apiKey: second.body.apiKey },
    });
    expect(again.status).toBe(401);
  });

  it("never reaches another tenant's data, nor any operator page", async () => {
    const a = await createTenant();
    const b = await createTenant();
    await call("/v1/credentials/groq", {
      method: "PUT",
      key: b.apiKey,
      json: { apiKey: "gsk-b", baseUrl: "https://api.groq.com/openai/v1" },
    });
    const s = await signIn({ apiKey: a.apiKey });
    const keys = await withSession(s, "/console/api/keys");
    expect(keys.body.keys.every((k: any) => k.id !== b.keyId)).toBe(true);
    expect((await withSession(s, "/console/api/credentials")).body.credentials).toEqual([]);
    const revokeB = await withSession(s, `/console/api/keys/${b.keyId}`, { method: "DELETE" });
    expect(revokeB.status).toBe(404);
    const deleteB = await withSession(s, "/console/api/credentials/groq", { method: "DELETE" });
    expect(deleteB.status).toBe(404);
    expect((await call("/v1/credentials", { key: b.apiKey })).body.credentials).toHaveLength(1);
    const audit = await withSession(s, "/console/api/audit");
    expect(audit.body.events.every((e: any) => e.targetId !== b.tenantId && e.targetId !== b.keyId)).toBe(
      true,
    );

    for (const path of [
      "/console/api/admin/tenants",
      "/console/api/admin/local-models",
      "/console/api/admin/guardrails",
      "/console/api/admin/guardrails/executions",
      "/console/api/admin/guardrails/summary",
    ]) {
      const res = await withSession(s, path);
      expect(res.status, path).toBe(403);
      expect(res.body.error.code).toBe("operator_only");
    }
    const create = await withSession(s, "/console/api/admin/tenants", {
      method: "POST",
      json: { name: "evil" },
    });
    expect(create.status).toBe(403);
    const guardrail = await withSession(s, "/console/api/admin/guardrails", {
      method: "POST",
      json: { name: "evil", kind: "http", endpointUrl: "https://example.com/g" },
    });
    expect(guardrail.status).toBe(403);
    expect(guardrail.body.error.code).toBe("operator_only");
    // Nor is a session an admin token.
    expect((await call("/admin/tenants", { headers: { cookie: `${COOKIE}=${s.cookie}` } })).status).toBe(401);
  });
});

describe("operator sessions", () => {
  it("reach the operator routes and no tenant's", async () => {
    const s = await signIn({ adminToken: bindings.RELAY_ADMIN_TOKEN as string });
    const tenants = await withSession(s, "/console/api/admin/tenants");
    expect(tenants.status).toBe(200);
    const name = `console-${crypto.randomUUID()}`;
    const created = await withSession(s, "/console/api/admin/tenants", { method: "POST", json: { name } });
    expect(created.status).toBe(201);
    expect(created.body.apiKey).toMatch(/^relay_live_/);
    const keys = await withSession(s, "/console/api/keys");
    expect(keys.status).toBe(403);
    expect(keys.body.error.code).toBe("tenant_only");
  });

  it("end when RELAY_ADMIN_TOKEN changes", async () => {
    const s = await signIn({ adminToken: bindings.RELAY_ADMIN_TOKEN as string });
    const res = await callWith(
      { RELAY_ADMIN_TOKEN: "a-brand-new-admin-token-0123456789" },
      "/console/api/admin/tenants",
      {
        headers: { cookie: `${COOKIE}=${s.cookie}` },
      },
    );
    expect(res.status).toBe(401);
  });

  it("load, inspect and unload a local model through the Worker", async () => {
    const s = await signIn({ adminToken: bindings.RELAY_ADMIN_TOKEN as string });
    const before = await withSession(s, "/console/api/admin/local-models");
    expect(before.status).toBe(200);
    expect(before.body).toMatchObject({ configured: true, enabled: true, settings: { maxWarmModels: 2 } });
    expect(before.body.models.find((m: any) => m.name === "operator-tiny")).toMatchObject({ ctxSize: 4096 });

    const load = await withSession(s, "/console/api/admin/local-models/operator-tiny/load", {
      method: "POST",
    });
    expect(load.status, load.text).toBe(200);
    expect(load.body).toMatchObject({ name: "operator-tiny", state: "ready" });
    const logs = await withSession(s, "/console/api/admin/local-models/operator-tiny/logs");
    expect(logs.body.log).toContain("fake-llama-server");
    const unknown = await withSession(s, "/console/api/admin/local-models/nope/load", { method: "POST" });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe("model_unknown");
    // The same routes answer the admin token at /admin.
    const viaToken = await call("/admin/local-models", {
      headers: { authorization: `Bearer ${bindings.RELAY_ADMIN_TOKEN}` },
    });
    expect(viaToken.body.models.find((m: any) => m.name === "operator-tiny").state).toBe("ready");
    const unload = await withSession(s, "/console/api/admin/local-models/operator-tiny/unload", {
      method: "POST",
    });
    expect(unload.body).toMatchObject({ unloaded: true });
  });

  it("readiness includes the sidecar", async () => {
    const res = await call("/readyz");
    expect(res.body.checks.sidecar).toMatchObject({ ok: true, required: false });
    const down = await callWith({ SIDECAR_URL: "http://127.0.0.1:9" }, "/readyz");
    expect(down.status).toBe(200);
    expect(down.body.status).toBe("degraded");
    expect(down.body.checks.sidecar.ok).toBe(false);
    expect(down.body.checks.sidecar.error).toContain("sidecar");
  });
});

describe("policies in the console", () => {
  it("a tenant session edits a key's policy with the documented fields only, and sees where the key stands", async () => {
    const { apiKey, tenantId } = await createTenant();
    const s = await signIn({ apiKey });
    const created = await withSession(s, "/console/api/keys", { method: "POST", json: { name: "limited" } });
    expect(created.status).toBe(201);
    const id = created.body.key.id as string;
    const policy = {
      rpm: 60,
      dailyBudgetUsd: 5,
      allowedModels: ["gpt-4o*"],
      guardrails: { mandatory: ["pii-redact"] },
    };
    const noCsrf = await withSession(s, `/console/api/keys/${id}`, {
      method: "PATCH",
      json: { policy },
      csrf: null,
    });
    expect(noCsrf.status).toBe(403);
    const saved = await withSession(s, `/console/api/keys/${id}`, { method: "PATCH", json: { policy } });
    expect(saved.status, saved.text).toBe(200);
    expect(saved.body.key.policy).toMatchObject({ rpm: 60, dailyBudgetUsd: 5, allowedModels: ["gpt-4o*"] });

    // Anything but the documented fields is refused with the API's message, and changes nothing.
    for (const json of [
      { policy: { rpm: 10, admin: true } },
      { policy: { guardrails: { mandatory: [], bypass: true } } },
      { tenantId: crypto.randomUUID() },
      { revokedAt: null },
      { name: "x", hashedSecret: "00" },
    ]) {
      const res = await withSession(s, `/console/api/keys/${id}`, { method: "PATCH", json });
      expect(res.status, JSON.stringify(json)).toBe(400);
      expect(res.body.error.message).toBeTruthy();
    }
    const unknown = await withSession(s, `/console/api/keys/${id}`, {
      method: "PATCH",
      json: { policy: { guardrails: { mandatory: ["no-such-guardrail"] } } },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toContain("no guardrail named 'no-such-guardrail'");

    // The list shows the policy and the meters: the budget from Postgres and Redis, the rate from Redis.
    const keys = await withSession(s, "/console/api/keys");
    const key = keys.body.keys.find((k: any) => k.id === id);
    expect(key.policy).toEqual(saved.body.key.policy);
    expect(key.limits.requestsPerMinute).toMatchObject({ limit: 60 });
    expect(key.limits.dailyBudget).toMatchObject({ limitUsd: 5, spentUsd: 0 });
    expect(keys.body.keys.find((k: any) => k.id !== id).limits).toBeNull();

    // null removes a field and keeps the others.
    const cleared = await withSession(s, `/console/api/keys/${id}`, {
      method: "PATCH",
      json: { policy: { rpm: null, guardrails: null } },
    });
    expect(cleared.status).toBe(200);
    expect(cleared.body.key.policy).toEqual({ dailyBudgetUsd: 5, allowedModels: ["gpt-4o*"] });

    // Another tenant's key is not found, and the operator's ceilings are not a tenant's to change.
    const other = await createTenant();
    const foreign = await withSession(s, `/console/api/keys/${other.keyId}`, {
      method: "PATCH",
      json: { policy: { rpm: 1 } },
    });
    expect(foreign.status).toBe(404);
    const ceilings = await withSession(s, `/console/api/admin/tenants/${tenantId}`, {
      method: "PATCH",
      json: { limits: { rpm: 100000 } },
    });
    expect(ceilings.status).toBe(403);
    expect(ceilings.body.error.code).toBe("operator_only");

    // A session whose key has a policy of its own cannot change other keys: the API says why.
    const limited = await call("/v1/keys", {
      method: "POST",
      key: apiKey,
      json: { name: "restricted", policy: { rpm: 5 } },
    });
    const r = await signIn({ apiKey: limited.body.apiKey });
    const refused = await withSession(r, `/console/api/keys/${id}`, {
      method: "PATCH",
      json: { policy: { rpm: null } },
    });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe("key_management_forbidden");
  });

  it("an operator session sets a tenant's ceilings with the documented fields only", async () => {
    const { tenantId } = await createTenant();
    const s = await signIn({ adminToken: bindings.RELAY_ADMIN_TOKEN as string });
    const saved = await withSession(s, `/console/api/admin/tenants/${tenantId}`, {
      method: "PATCH",
      json: { limits: { rpm: 600, monthlyBudgetUsd: 200 } },
    });
    expect(saved.status, saved.text).toBe(200);
    expect(saved.body.tenant.limits).toEqual({ rpm: 600, monthlyBudgetUsd: 200 });
    for (const json of [
      { limits: { guardrails: { mandatory: [] } } }, // a key's rule, not a ceiling
      { limits: { rpm: 1, unlimited: true } },
      { limits: {}, name: "renamed" },
      { limits: { rpm: -1 } },
    ]) {
      const res = await withSession(s, `/console/api/admin/tenants/${tenantId}`, { method: "PATCH", json });
      expect(res.status, JSON.stringify(json)).toBe(400);
    }
    const noCsrf = await withSession(s, `/console/api/admin/tenants/${tenantId}`, {
      method: "PATCH",
      json: { limits: { rpm: null } },
      csrf: null,
    });
    expect(noCsrf.status).toBe(403);
    const list = await withSession(s, "/console/api/admin/tenants");
    const tenant = list.body.tenants.find((t: any) => t.id === tenantId);
    expect(tenant.limits).toEqual({ rpm: 600, monthlyBudgetUsd: 200 });
    const missing = await withSession(s, `/console/api/admin/tenants/${crypto.randomUUID()}`, {
      method: "PATCH",
      json: { limits: { rpm: 1 } },
    });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe("tenant_not_found");
  });
});

describe("runs and guardrails in the console", () => {
  /** A run without tools: the mock answers at once and the run completes. */
  async function startRun(apiKey: string, json: Record<string, unknown>) {
    const res = await call("/v1/runs", {
      method: "POST",
      key: apiKey,
      json: { model: "gpt-4o-mini", ...json },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.text).toContain('"type":"done"');
    return res.headers.get("x-run-id") as string;
  }

  it("a tenant session reads its runs, their events and workflows, and starts or changes none", async () => {
    const a = await gatewayTenant();
    const parent = await startRun(a.apiKey, { input: "the parent" });
    const child = await startRun(a.apiKey, { input: "the child", parentRunId: parent });
    const s = await signIn({ apiKey: a.apiKey });

    const list = await withSession(s, "/console/api/runs");
    expect(list.status).toBe(200);
    expect(list.body.runs.map((r: any) => r.id)).toEqual([child, parent]);
    const roots = await withSession(s, "/console/api/runs?roots=true&status=completed");
    expect(roots.body.runs.map((r: any) => r.id)).toEqual([parent]);
    expect((await withSession(s, "/console/api/runs?status=failed")).body.runs).toEqual([]);
    const one = await withSession(s, `/console/api/runs/${child}`);
    expect(one.body.run).toMatchObject({ id: child, status: "completed", parentRunId: parent });
    const stored = await withSession(s, `/console/api/runs/${parent}/events`);
    expect(stored.body.events.at(-1)).toMatchObject({ type: "done" });
    // The replay an EventSource reads (it sends Accept: text/event-stream, and the cookie).
    const replay = await withSession(s, `/console/api/runs/${parent}/events`, {
      headers: { accept: "text/event-stream" },
    });
    expect(replay.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(replay.text).toMatch(/^id: 0\ndata: \{"type":"token"/);
    expect(replay.text).toContain('"type":"done"');
    const workflow = await withSession(s, `/console/api/workflows/${parent}`);
    expect(workflow.body.runs.map((r: any) => [r.id, r.depth])).toEqual([
      [parent, 0],
      [child, 1],
    ]);
    const guardrails = await withSession(s, "/console/api/guardrails");
    expect(guardrails.status).toBe(200);
    expect(Array.isArray(guardrails.body.guardrails)).toBe(true);

    // Runs are started, answered and canceled by the programs that own them, with a key.
    for (const [path, json] of [
      ["/console/api/runs", { model: "gpt-4o-mini", input: "from the console" }],
      [`/console/api/runs/${parent}/cancel`, undefined],
      [`/console/api/runs/${parent}/tool-results/call_1`, { output: 1 }],
      ["/console/api/guardrails/test", { mode: "pre_call", input: { messages: [] } }],
    ] as const) {
      const res = await withSession(s, path, { method: "POST", json });
      expect(res.status, path).toBe(404);
      expect(res.body.error.code).toBe("route_not_found");
    }
    expect((await call("/v1/runs?limit=5", { key: a.apiKey })).body.runs).toHaveLength(2);

    // Another tenant's session sees none of it.
    const b = await createTenant();
    const other = await signIn({ apiKey: b.apiKey });
    expect((await withSession(other, "/console/api/runs")).body.runs).toEqual([]);
    for (const path of [
      `/console/api/runs/${parent}`,
      `/console/api/runs/${parent}/events`,
      `/console/api/workflows/${parent}`,
    ]) {
      expect((await withSession(other, path)).status, path).toBe(404);
    }
    const replayB = await withSession(other, `/console/api/runs/${parent}/events`, {
      headers: { accept: "text/event-stream" },
    });
    expect(replayB.status).toBe(404);

    // And the operator's session is no tenant's.
    const operator = await signIn({ adminToken: bindings.RELAY_ADMIN_TOKEN as string });
    for (const path of ["/console/api/runs", "/console/api/guardrails", `/console/api/workflows/${parent}`]) {
      const res = await withSession(operator, path);
      expect(res.status, path).toBe(403);
      expect(res.body.error.code).toBe("tenant_only");
    }
  });

  it("a tenant session follows a running run to its end, frame for frame what its client saw", async () => {
    const { apiKey } = await gatewayTenant();
    const tools = ["get_weather", "get_time"].map((name) => ({
      kind: "function",
      name,
      inputSchema: { type: "object", properties: {} },
    }));
    const frames = (text: string) => text.split(/(?<=\n\n)/).filter(Boolean);
    /** Reads a stream until `until` holds for what it has read (or the stream ends). */
    async function readUntil(
      reader: ReadableStreamDefaultReader<Uint8Array>,
      got: string[],
      until: () => boolean,
    ) {
      const decoder = new TextDecoder();
      let rest = "";
      while (!until()) {
        const { done, value } = await reader.read();
        if (done) return true;
        rest += decoder.decode(value, { stream: true });
        const complete = rest.lastIndexOf("\n\n") + 2;
        got.push(...frames(rest.slice(0, complete)));
        rest = rest.slice(complete);
      }
      return false;
    }
    const calls = (got: string[]) => got.filter((f) => f.includes('"type":"tool_call"')).length;

    const started = await self.fetch(
      new Request(`${BASE}/v1/runs`, {
        method: "POST",
        headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "gpt-4o-mini", input: "weather and time?", tools }),
      }),
    );
    const runId = started.headers.get("x-run-id") as string;
    const client = (started.body as ReadableStream<Uint8Array>).getReader();
    const live: string[] = [];
    await readUntil(client, live, () => calls(live) === 2);

    const s = await signIn({ apiKey });
    const follow = await self.fetch(
      new Request(`${BASE}/console/api/runs/${runId}/events?after=-1`, {
        headers: { cookie: `${COOKIE}=${s.cookie}`, accept: "text/event-stream" },
      }),
    );
    expect(follow.status).toBe(200);
    const follower = (follow.body as ReadableStream<Uint8Array>).getReader();
    const followed: string[] = [];
    await readUntil(follower, followed, () => calls(followed) === 2);
    expect(followed).toEqual(live);

    for (const id of ["call_weather_1", "call_time_2"]) {
      const res = await call(`/v1/runs/${runId}/tool-results/${id}`, {
        method: "POST",
        key: apiKey,
        json: { output: id },
      });
      expect(res.status).toBe(200);
    }
    expect(await readUntil(client, live, () => false)).toBe(true);
    // The follower sees the rest as the run stores it, then the stream ends with the run.
    expect(await readUntil(follower, followed, () => false)).toBe(true);
    expect(live.at(-1)).toContain('"type":"done"');
    expect(followed).toEqual(live);
  });

  it("an operator session manages the guardrail catalog and reads the executions", async () => {
    const s = await signIn({ adminToken: bindings.RELAY_ADMIN_TOKEN as string });
    const catalog = await withSession(s, "/console/api/admin/guardrails");
    expect(catalog.status).toBe(200);
    expect(catalog.body.guardrails.map((g: any) => g.name)).toContain("pii-redact");

    const name = `console-${crypto.randomUUID().slice(0, 8)}`;
    const body = {
      name,
      kind: "http",
      endpointUrl: `${MOCK}/guardrail/allow`,
      modes: ["pre_call"],
      config: { threshold: 0.5 },
      configSchema: { type: "object", properties: { threshold: { type: "number", maximum: 1 } } },
    };
    const noCsrf = await withSession(s, "/console/api/admin/guardrails", {
      method: "POST",
      json: body,
      csrf: null,
    });
    expect(noCsrf.status).toBe(403);
    expect(noCsrf.body.error.code).toBe("invalid_csrf_token");
    const created = await withSession(s, "/console/api/admin/guardrails", { method: "POST", json: body });
    expect(created.status, created.text).toBe(201);
    const bad = await withSession(s, `/console/api/admin/guardrails/${name}`, {
      method: "PATCH",
      json: { config: { threshold: 5 } },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: "invalid_guardrail_config", param: "config" });
    const patched = await withSession(s, `/console/api/admin/guardrails/${name}`, {
      method: "PATCH",
      json: { enabled: false, failurePolicy: "dry_run" },
    });
    expect(patched.body.guardrail).toMatchObject({ name, enabled: false, failurePolicy: "dry_run" });

    // Executions as the executor records them (counts, never content), for one tenant.
    const { tenantId } = await createTenant();
    const at = new Date();
    await handle.db.insert(guardrailExecutions).values(
      (["allow", "block", "block"] as const).map((action, i) => ({
        id: crypto.randomUUID(),
        requestId: `req-${i}`,
        tenantId,
        guardrail: name,
        mode: "pre_call",
        action,
        failurePolicy: "fail_closed",
        latencyMs: 10 * (i + 1),
        reason: action === "block" ? "over the threshold" : null,
        createdAt: new Date(at.getTime() - i * 1000),
      })),
    );
    const executions = await withSession(
      s,
      `/console/api/admin/guardrails/executions?tenant=${tenantId}&action=block&limit=1`,
    );
    expect(executions.status).toBe(200);
    expect(executions.body.executions).toHaveLength(1);
    expect(executions.body.executions[0]).toMatchObject({
      guardrail: name,
      action: "block",
      requestId: "req-1",
    });
    const summary = await withSession(s, `/console/api/admin/guardrails/summary?tenant=${tenantId}`);
    expect(summary.body.summary).toEqual([
      { guardrail: name, mode: "pre_call", action: "allow", count: 1, avgLatencyMs: 10 },
      { guardrail: name, mode: "pre_call", action: "block", count: 2, avgLatencyMs: 25 },
    ]);

    const removed = await withSession(s, `/console/api/admin/guardrails/${name}`, { method: "DELETE" });
    expect(removed.status).toBe(204);
    const builtin = await withSession(s, "/console/api/admin/guardrails/pii-redact", { method: "DELETE" });
    expect(builtin.body.error.code).toBe("builtin_guardrail");
  });
});

describe("the console page", () => {
  it("is what a browser gets at /, with the session it starts with, escaped, and strict headers", async () => {
    const anonymous = await call("/", { headers: { accept: "text/html,application/xhtml+xml" } });
    expect(anonymous.status).toBe(200);
    expect(anonymous.headers.get("content-type")).toMatch(/^text\/html/);
    expect(anonymous.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(anonymous.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(anonymous.headers.get("cache-control")).toBe("no-store");
    expect(anonymous.text).toContain(
      '<script id="relay-boot" type="application/json">{"session":null}</script>',
    );
    expect(anonymous.text).toMatch(/src="\/console\/assets\/index-[\w-]+\.js"/);
    // Everyone else still gets the JSON description.
    expect((await call("/")).body).toMatchObject({ name: "relay" });

    const { apiKey } = await createTenant(`</script><script>alert(1)</script>${crypto.randomUUID()}`);
    const s = await signIn({ apiKey });
    const page = await call("/console/keys", {
      headers: { accept: "text/html", cookie: `${COOKIE}=${s.cookie}` },
    });
    expect(page.status).toBe(200);
    const boot =
      /<script id="relay-boot" type="application\/json">(.*?)<\/script>/.exec(page.text)?.[1] ?? "";
    expect(boot).not.toContain("<");
    expect(JSON.parse(boot).session).toMatchObject({ kind: "tenant", csrfToken: s.csrf });
    expect(JSON.parse(boot).session.tenant.name).toContain("</script>");

    const asset = /src="(\/console\/assets\/index-[\w-]+\.js)"/.exec(page.text)?.[1] as string;
    const js = await self.fetch(`${BASE}${asset}`);
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toMatch(/javascript/);
    await js.body?.cancel();
  });
});
