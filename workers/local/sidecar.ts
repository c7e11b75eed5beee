import { errors } from "../../common/errors";
import { signInternalJwt } from "../../common/internal-jwt";
import { type Config, required } from "../config/env";

// The Worker's side of the sidecar: a short-lived internal JWT (reused while fresh, since signing
// costs an HMAC per request) and the list of local models (cached, refreshed in the background).

const TOKEN_REUSE_MS = 30_000; // tokens live 60 s
let token: { secret: string; value: string; until: number } | undefined;

export async function sidecarToken(config: Config): Promise<string> {
  const secret = required(config, "RELAY_INTERNAL_SECRET");
  const now = Date.now();
  if (token && token.secret === secret && token.until > now) return token.value;
  const value = await signInternalJwt(secret);
  token = { secret, value, until: now + TOKEN_REUSE_MS };
  return value;
}

export interface LocalModel {
  id: string;
  context_length?: number;
}

const LIST_TTL_MS = 30_000;
let list: { url: string; models: LocalModel[]; freshUntil: number } | undefined;
let refreshing: Promise<LocalModel[]> | undefined;

async function fetchList(config: Config, url: string): Promise<LocalModel[]> {
  try {
    const res = await fetch(`${url}/v1/models`, {
      headers: { authorization: `Bearer ${await sidecarToken(config)}` },
      signal: AbortSignal.timeout(2000),
    });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const body = (await res.json()) as { data?: LocalModel[] };
    const models = (body.data ?? []).map((m) => ({ id: m.id, context_length: m.context_length }));
    list = { url, models, freshUntil: Date.now() + LIST_TTL_MS };
    return models;
  } catch (err) {
    // An unreachable sidecar lists nothing for a while rather than slowing every request.
    console.warn(
      JSON.stringify({ level: "warn", msg: "sidecar model list unavailable", error: String(err) }),
    );
    list = { url, models: list?.url === url ? list.models : [], freshUntil: Date.now() + LIST_TTL_MS };
    return list.models;
  }
}

/** The sidecar's models; `background` keeps a stale-while-revalidate refresh alive (waitUntil). */
export async function localModels(
  config: Config,
  background?: (p: Promise<unknown>) => void,
): Promise<LocalModel[]> {
  const url = config.SIDECAR_URL?.replace(/\/+$/, "");
  if (!url || !config.RELAY_INTERNAL_SECRET) return [];
  if (list?.url === url) {
    if (list.freshUntil <= Date.now() && !refreshing) {
      refreshing = fetchList(config, url).finally(() => (refreshing = undefined));
      background?.(refreshing);
    }
    return list.models;
  }
  refreshing ??= fetchList(config, url).finally(() => (refreshing = undefined));
  return refreshing;
}

export function sidecarBaseUrl(config: Config): string {
  if (!config.SIDECAR_URL) {
    throw errors.misconfigured("SIDECAR_URL is not set: local models are served by the sidecar");
  }
  return `${config.SIDECAR_URL.replace(/\/+$/, "")}/v1`;
}
