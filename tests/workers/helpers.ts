import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { inject } from "vitest";
import worker from "../../workers/index";

export const bindings = inject("workerBindings");
export const BASE = "http://relay.test";

// The Worker under test (wrangler.toml's main), as a service binding.
const self = (exports as unknown as { default: Fetcher }).default;

export interface Json {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

type CallInit = RequestInit & { key?: string; json?: unknown };

function buildRequest(path: string, init: CallInit): Request {
  const headers = new Headers(init.headers);
  if (init.key) headers.set("authorization", `Bearer ${init.key}`);
  let body = init.body;
  if (init.json !== undefined) {
    headers.set("content-type", "application/json");
    body = JSON.stringify(init.json);
  }
  return new Request(`${BASE}${path}`, { ...init, headers, body });
}

async function readJson(res: Response): Promise<Json> {
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

/** Calls the Worker's own fetch handler, as a client would. */
export async function call(path: string, init: CallInit = {}): Promise<Json> {
  return readJson(await self.fetch(buildRequest(path, init)));
}

/** Calls the Worker's handler with some bindings changed (a misconfigured or rotating deployment). */
export async function callWith(
  overrides: Record<string, string>,
  path: string,
  init: CallInit = {},
): Promise<Json> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(buildRequest(path, init), { ...bindings, ...overrides }, ctx);
  const out = await readJson(res);
  await waitOnExecutionContext(ctx);
  return out;
}

export async function createTenant(
  name = `t-${crypto.randomUUID()}`,
): Promise<{ tenantId: string; apiKey: string; keyId: string }> {
  const res = await call("/admin/tenants", {
    method: "POST",
    json: { name },
    headers: { authorization: `Bearer ${bindings.RELAY_ADMIN_TOKEN}` },
  });
  if (res.status !== 201) throw new Error(`admin create tenant failed: ${res.status} ${res.text}`);
  return { tenantId: res.body.tenant.id, apiKey: res.body.apiKey, keyId: res.body.key.id };
}
