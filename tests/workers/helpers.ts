import { exports } from "cloudflare:workers";
import { inject } from "vitest";

export const bindings = inject("workerBindings");
// The Worker under test (wrangler.toml's main), as a service binding.
const self = (exports as unknown as { default: Fetcher }).default;
export const BASE = "http://relay.test";

export interface Json {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

/** Calls the Worker's own fetch handler, as a client would. */
export async function call(
  path: string,
  init: RequestInit & { key?: string; json?: unknown } = {},
): Promise<Json> {
  const headers = new Headers(init.headers);
  if (init.key) headers.set("authorization", `Bearer ${init.key}`);
  let body = init.body;
  if (init.json !== undefined) {
    headers.set("content-type", "application/json");
    body = JSON.stringify(init.json);
  }
  const res = await self.fetch(new Request(`${BASE}${path}`, { ...init, headers, body }));
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
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
