// What the SDK throws. The server builds its envelope with common/errors.ts; this is the client's
// reading of it, plus what only the client knows (the run it belongs to, a stream that broke).

export interface RelayErrorInit {
  code: string;
  message: string;
  /** The HTTP status, or null when no HTTP answer carried the error (an `error` event, a lost connection). */
  status?: number | null;
  type?: string | null;
  param?: string | null;
  requestId?: string | null;
  runId?: string | null;
  cause?: unknown;
}

/** An error from relay or from talking to it. `code` is stable and machine-readable. */
export class RelayError extends Error {
  readonly code: string;
  readonly status: number | null;
  readonly type: string | null;
  readonly param: string | null;
  readonly requestId: string | null;
  readonly runId: string | null;

  constructor(init: RelayErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "RelayError";
    this.code = init.code;
    this.status = init.status ?? null;
    this.type = init.type ?? null;
    this.param = init.param ?? null;
    this.requestId = init.requestId ?? null;
    this.runId = init.runId ?? null;
  }
}

/** A run that started and then failed: an `error` event, a cancel, or a stream that ended early. */
export class RunError extends RelayError {
  declare readonly runId: string;

  constructor(init: RelayErrorInit & { runId: string }) {
    super(init);
    this.name = "RunError";
  }
}

/** Reads relay's error envelope (or any other error body) from a failed response. */
export async function errorFromResponse(response: Response, runId?: string): Promise<RelayError> {
  const text = await response.text().catch(() => "");
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const envelope = isRecord(body) && isRecord(body.error) ? body.error : undefined;
  const requestId =
    stringOrNull(envelope?.request_id) ??
    (isRecord(body) ? stringOrNull(body.request_id) : null) ??
    response.headers.get("x-request-id");
  return new RelayError({
    status: response.status,
    // relay's envelope has a code; an Anthropic-style envelope (or a proxy's) may only have a type.
    code: stringOrNull(envelope?.code) ?? stringOrNull(envelope?.type) ?? `http_${response.status}`,
    message:
      stringOrNull(envelope?.message) ??
      (text.trim().slice(0, 500) || `HTTP ${response.status} ${response.statusText}`.trim()),
    type: stringOrNull(envelope?.type),
    param: stringOrNull(envelope?.param),
    requestId,
    runId: runId ?? null,
  });
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function stringOrNull(value: unknown): string | null {
  return typeof value === "string" && value !== "" ? value : null;
}
