import { RelayError } from "../../../common/errors";

// Errors a client can act on, in the shared envelope.
export const lifecycleErrors = {
  unknown: (name: string) =>
    new RelayError({
      status: 404,
      type: "not_found_error",
      code: "model_unknown",
      message: `No local model named '${name}'`,
    }),
  startTimeout: (name: string, ms: number, log: string) =>
    new RelayError({
      status: 504,
      type: "timeout_error",
      code: "model_start_timeout",
      message: `Model '${name}' did not become healthy within ${ms} ms. Last output:\n${log}`,
    }),
  startFailed: (name: string, why: string, log: string) =>
    new RelayError({
      status: 503,
      type: "service_unavailable",
      code: "model_start_failed",
      message: `Model '${name}' failed to start (${why}). Last output:\n${log}`,
    }),
  disabled: (name: string, retryAt: number) =>
    new RelayError({
      status: 503,
      type: "service_unavailable",
      code: "model_start_disabled",
      message: `Model '${name}' failed to start too often; starts are disabled until ${new Date(retryAt).toISOString()}`,
      headers: { "retry-after": String(Math.max(1, Math.ceil((retryAt - Date.now()) / 1000))) },
    }),
  queueFull: (name: string) =>
    new RelayError({
      status: 429,
      type: "rate_limit_error",
      code: "queue_full",
      message: `Too many requests are waiting for model '${name}'`,
      headers: { "retry-after": "1" },
    }),
  lifecycleDisabled: () =>
    new RelayError({
      status: 503,
      type: "service_unavailable",
      code: "lifecycle_disabled",
      message: "Local models are off: set RELAY_MODEL_LIFECYCLE_ENABLED=true and RELAY_MODEL_MAP",
    }),
};
