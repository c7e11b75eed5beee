// The one error envelope of relay, shared by the Worker and the sidecar.
// Every route but /v1/messages answers in OpenAI's shape; /v1/messages answers in Anthropic's.

export type ErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "permission_error"
  | "not_found_error"
  | "request_too_large"
  | "rate_limit_error"
  | "billing_error"
  | "api_error"
  | "server_error"
  | "timeout_error"
  | "service_unavailable"
  | "overloaded_error"
  // An upstream's own error type is kept as it came.
  | (string & {});

export interface ErrorInit {
  status: number;
  type: ErrorType;
  code: string;
  message: string;
  param?: string | null;
  headers?: Record<string, string>;
}

export class RelayError extends Error {
  readonly status: number;
  readonly type: ErrorType;
  readonly code: string;
  readonly param: string | null;
  readonly headers: Record<string, string>;

  constructor(init: ErrorInit) {
    super(init.message);
    this.name = "RelayError";
    this.status = init.status;
    this.type = init.type;
    this.code = init.code;
    this.param = init.param ?? null;
    this.headers = init.headers ?? {};
  }
}

export type EnvelopeStyle = "openai" | "anthropic";

export function errorBody(err: RelayError, requestId: string, style: EnvelopeStyle = "openai"): unknown {
  if (style === "anthropic") {
    return { type: "error", error: { type: err.type, message: err.message }, request_id: requestId };
  }
  return {
    error: { message: err.message, type: err.type, code: err.code, param: err.param, request_id: requestId },
  };
}

// Shorthands for the errors every route raises, so status, type and code never drift apart.
export const errors = {
  badRequest: (code: string, message: string, param?: string | null) =>
    new RelayError({ status: 400, type: "invalid_request_error", code, message, param }),
  unauthorized: (code: string, message: string) =>
    new RelayError({ status: 401, type: "authentication_error", code, message }),
  paymentRequired: (code: string, message: string) =>
    new RelayError({ status: 402, type: "billing_error", code, message }),
  forbidden: (code: string, message: string) =>
    new RelayError({ status: 403, type: "permission_error", code, message }),
  notFound: (code: string, message: string) =>
    new RelayError({ status: 404, type: "not_found_error", code, message }),
  conflict: (code: string, message: string) =>
    new RelayError({ status: 409, type: "invalid_request_error", code, message }),
  tooLarge: (limit: number) =>
    new RelayError({
      status: 413,
      type: "request_too_large",
      code: "request_too_large",
      message: `Request body is larger than the limit of ${limit} bytes`,
    }),
  /** 429 with `retry-after` (whole seconds, at least 1) and the OpenAI SDKs' precise `retry-after-ms`. */
  rateLimited: (code: string, message: string, retryAfterMs: number) => {
    const ms = Math.max(Math.ceil(retryAfterMs), 1);
    return new RelayError({
      status: 429,
      type: "rate_limit_error",
      code,
      message,
      headers: { "retry-after": String(Math.ceil(ms / 1000)), "retry-after-ms": String(ms) },
    });
  },
  unsupportedMediaType: (got: string | undefined) =>
    new RelayError({
      status: 415,
      type: "invalid_request_error",
      code: "unsupported_media_type",
      message: `Expected Content-Type: application/json, got ${got ? JSON.stringify(got) : "none"}`,
    }),
  misconfigured: (message: string) =>
    new RelayError({ status: 500, type: "server_error", code: "configuration_error", message }),
  unavailable: (code: string, message: string) =>
    new RelayError({ status: 503, type: "service_unavailable", code, message }),
  badGateway: (code: string, message: string) =>
    new RelayError({ status: 502, type: "api_error", code, message }),
  timeout: (message: string) =>
    new RelayError({ status: 504, type: "timeout_error", code: "upstream_timeout", message }),
  internal: () =>
    new RelayError({
      status: 500,
      type: "server_error",
      code: "internal_error",
      message: "Internal error; the request id identifies it in the logs",
    }),
};
