import { errors, RelayError } from "../../common/errors";
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

/**
 * A call to the sidecar's own API with the internal JWT (operator routes, readiness). An answer in
 * the error envelope becomes that error; no answer at all is a 502 naming the sidecar.
 */
export async function callSidecar(
  config: Config,
  path: string,
  init: { method?: string; timeoutMs: number },
): Promise<Response> {
  if (!config.SIDECAR_URL) {
    throw errors.unavailable(
      "sidecar_not_configured",
      "SIDECAR_URL is not set: local models are served by the sidecar",
    );
  }
  const url = `${config.SIDECAR_URL.replace(/\/+$/, "")}${path}`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: init.method ?? "GET",
      headers: { authorization: `Bearer ${await sidecarToken(config)}` },
      signal: AbortSignal.timeout(init.timeoutMs),
    });
  } catch (err) {
    if (err instanceof RelayError) throw err;
    const why =
      err instanceof Error && err.name === "TimeoutError"
        ? `no answer within ${init.timeoutMs} ms`
        : String(err);
    throw errors.badGateway("sidecar_unreachable", `The sidecar at SIDECAR_URL did not answer: ${why}`);
  }
  if (res.ok) return res;
  const body = (await res.json().catch(() => null)) as {
    error?: { message?: string; type?: string; code?: string };
  } | null;
  throw new RelayError({
    status: res.status,
    type: body?.error?.type ?? "api_error",
    code: body?.error?.code ?? "sidecar_error",
    message: body?.error?.message ?? `The sidecar answered HTTP ${res.status}`,
    headers: res.headers.get("retry-after")
      ? { "retry-after": res.headers.get("retry-after") as string }
      : {},
  });
}
