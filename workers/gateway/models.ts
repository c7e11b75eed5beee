import type { Context } from "hono";
import type { Config } from "../config/env";
import { credentialCache } from "../credentials/cache";
import type { DecryptedCredential } from "../db/queries/credentials";
import type { AppEnv } from "../http/types";
import { refusingList } from "../limits/policy";
import { localModels } from "../local/sidecar";
import { providerBaseUrl } from "../routing/resolve";

export interface ModelEntry {
  id: string;
  object: "model";
  created: number;
  owned_by: string;
  context_length?: number;
}

// Context windows of the big families, for listings that do not say.
const KNOWN_CONTEXT: [RegExp, number][] = [
  [/^claude-/, 200_000],
  [/^gpt-4\.1/, 1_047_576],
  [/^gpt-5/, 400_000],
  [/^gpt-4o/, 128_000],
  [/^gpt-4-turbo/, 128_000],
  [/^(o1|o3|o4)(-|$)/, 200_000],
  [/^gpt-3\.5-turbo/, 16_385],
];

function knownContext(id: string): number | undefined {
  return KNOWN_CONTEXT.find(([re]) => re.test(id))?.[1];
}

const LISTING_TTL_MS = 5 * 60_000;
const SWEEP_AT = 256;
const listings = new Map<
  string,
  { expiresAt: number; models: Promise<{ id: string; context?: number }[]> }
>();

/** The upstream's own model list, cached per tenant and credential. */
function upstreamModels(
  config: Config,
  tenantId: string,
  cred: DecryptedCredential,
): Promise<{ id: string; context?: number }[]> {
  const key = `${tenantId}\u0000${cred.name}\u0000${cred.updatedAt}`;
  const hit = listings.get(key);
  if (hit && hit.expiresAt > Date.now()) return hit.models;
  const anthropic = cred.provider === "anthropic";
  const base = (cred.baseUrl ?? providerBaseUrl(config, anthropic ? "anthropic" : "openai")).replace(
    /\/+$/,
    "",
  );
  const url = anthropic ? `${base.replace(/\/v1$/, "")}/v1/models?limit=1000` : `${base}/models`;
  const headers: Record<string, string> = anthropic ? { "anthropic-version": "2023-06-01" } : {};
  if (cred.apiKey) {
    if (anthropic) headers["x-api-key"] = cred.apiKey;
    else headers.authorization = `Bearer ${cred.apiKey}`;
  }
  const models = fetch(url, { headers, signal: AbortSignal.timeout(5000) })
    .then(async (res) => {
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const body = (await res.json()) as { data?: Record<string, unknown>[] };
      return (body.data ?? [])
        .filter((m) => typeof m.id === "string")
        .map((m) => {
          const context = [m.context_length, m.context_window, m.max_model_len].find(
            (v) => typeof v === "number",
          );
          return { id: m.id as string, context: context as number | undefined };
        });
    })
    .catch((err) => {
      listings.delete(key);
      console.warn(
        JSON.stringify({
          level: "warn",
          msg: "model listing failed",
          credential: cred.name,
          error: String(err),
        }),
      );
      return [];
    });
  // Entries of changed or deleted credentials are never asked for again: sweep the expired ones
  // now and then, so credential churn cannot grow the map for the isolate's lifetime.
  if (listings.size >= SWEEP_AT) {
    const now = Date.now();
    for (const [k, v] of listings) if (v.expiresAt <= now) listings.delete(k);
  }
  listings.set(key, { expiresAt: Date.now() + LISTING_TTL_MS, models });
  return models;
}

/** Every model this tenant can reach, named as a request would name it. */
export async function listModels(c: Context<AppEnv>): Promise<ModelEntry[]> {
  const config = c.get("config");
  const { tenantId } = c.get("caller");
  const handle = c.get("db");
  const names = [...(await credentialCache.names(handle, config, tenantId))].sort();
  const out = new Map<string, ModelEntry>();
  const add = (id: string, owner: string, context?: number) => {
    if (out.has(id)) return;
    const ctx = context ?? knownContext(id.slice(id.indexOf(":") + 1));
    out.set(id, {
      id,
      object: "model",
      created: 0,
      owned_by: owner,
      ...(ctx ? { context_length: ctx } : {}),
    });
  };

  const creds =
    // A credential that cannot be used (a refused baseUrl, say) lists nothing rather than failing the list.
    (
      await Promise.all(names.map((n) => credentialCache.get(handle, config, tenantId, n).catch(() => null)))
    ).filter((cred): cred is DecryptedCredential => cred !== null);
  const lists = await Promise.all(creds.map((cred) => upstreamModels(config, tenantId, cred)));
  creds.forEach((cred, i) => {
    for (const m of lists[i] ?? []) {
      // Built-in credentials keep the names that route without a prefix; the rest carry one.
      const bare =
        (cred.name === "anthropic" && m.id.startsWith("claude-")) ||
        (cred.name === "openai" && /^(gpt-|chatgpt-|o1|o3|o4|text-embedding-)/.test(m.id));
      add(bare ? m.id : `${cred.name}:${m.id}`, cred.name, m.context);
    }
  });
  for (const [id, entry] of Object.entries(config.RELAY_CLOUD_MODELS ?? {})) add(id, "cloud", entry.ctx_size);
  for (const m of await localModels(config, (p) => c.executionCtx.waitUntil(p)))
    add(`local:${m.id}`, "local", m.context_length);
  // A key with an allow-list lists only what it may use.
  const limits = c.get("caller").limits;
  return [...out.values()].filter((m) => !limits || refusingList(limits, m.id) === null);
}
