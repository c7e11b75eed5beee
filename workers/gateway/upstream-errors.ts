import { RelayError } from "../../common/errors";
import type { Target } from "../routing/resolve";

const TYPE_BY_STATUS: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  422: "invalid_request_error",
  429: "rate_limit_error",
  529: "overloaded_error",
};

/** Statuses worth another try while nothing has reached the client. */
export function retryable(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/** Delay asked for by `retry-after-ms` (OpenAI) or `retry-after` (seconds or an HTTP date). */
export function retryAfterMs(headers: Headers): number | null {
  const ms = Number(headers.get("retry-after-ms"));
  if (headers.has("retry-after-ms") && Number.isFinite(ms) && ms >= 0) return ms;
  const value = headers.get("retry-after");
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(seconds, 0) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(date - Date.now(), 0);
}

/**
 * An upstream's error response as relay's error, keeping the upstream's status, type and message,
 * whichever of the two error formats it used.
 */
export async function upstreamError(res: Response, target: Target): Promise<RelayError> {
  let text = "";
  try {
    text = (await res.text()).slice(0, 65536);
  } catch {}
  let message = text.trim().slice(0, 500) || `HTTP ${res.status}`;
  let type: string | undefined;
  let code: string | undefined;
  let param: string | null = null;
  try {
    const body = JSON.parse(text) as { error?: unknown; message?: unknown };
    const err = body.error;
    if (err && typeof err === "object") {
      const e = err as Record<string, unknown>;
      if (typeof e.message === "string") message = e.message;
      if (typeof e.type === "string") type = e.type;
      if (typeof e.code === "string") code = e.code;
      if (typeof e.param === "string") param = e.param;
    } else if (typeof err === "string") {
      message = err;
    } else if (typeof body.message === "string") {
      message = body.message;
    }
  } catch {}
  const headers: Record<string, string> = {
    "x-relay-upstream-status": String(res.status),
    "x-relay-provider": target.provider,
  };
  const after = res.headers.get("retry-after");
  if (after) headers["retry-after"] = after;
  return new RelayError({
    status: res.status >= 400 && res.status <= 599 ? res.status : 502,
    type: type ?? TYPE_BY_STATUS[res.status] ?? "api_error",
    code: code ?? "upstream_error",
    message,
    param,
    headers,
  });
}
