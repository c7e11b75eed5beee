import { getSession, setSession } from "./session";

/** An error answered by the API, with its own message (the envelope in common/errors.ts). */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | null,
    readonly requestId: string | null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export interface RequestOptions {
  method?: string;
  body?: unknown;
  query?: Record<string, string | number | undefined | null>;
}

function url(path: string, query: RequestOptions["query"]): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {}))
    if (v !== undefined && v !== null && v !== "") params.set(k, String(v));
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

/**
 * A call to the Worker: console APIs are under /console/api (the API's own routes behind the
 * session cookie). Changes carry the session's CSRF token; a 401 means the session has ended.
 */
export async function request<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const method = opts.method ?? "GET";
  const headers: Record<string, string> = { accept: "application/json" };
  if (opts.body !== undefined) headers["content-type"] = "application/json";
  const session = getSession();
  if (UNSAFE.has(method) && session) headers["x-csrf-token"] = session.csrfToken;
  let res: Response;
  try {
    res = await fetch(url(path, opts.query), {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      credentials: "same-origin",
    });
  } catch {
    throw new ApiError("relay did not answer: check that it is running and your connection", 0, null, null);
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (res.ok) return body as T;
  const error = (body as { error?: { message?: string; code?: string; request_id?: string } } | undefined)
    ?.error;
  const err = new ApiError(
    error?.message ?? `HTTP ${res.status}`,
    res.status,
    error?.code ?? null,
    error?.request_id ?? res.headers.get("x-request-id"),
  );
  if (res.status === 401 && path.startsWith("/console/api/") && path !== "/console/api/session") {
    setSession(null, err.message);
  }
  throw err;
}

export const api = <T>(path: string, opts?: RequestOptions) => request<T>(`/console/api${path}`, opts);
