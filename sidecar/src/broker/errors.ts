import { errors, RelayError } from "../../../common/errors";

// The broker's errors in the shared envelope. Another tenant's run is reported as missing, never as
// someone else's.
export const brokerErrors = {
  runNotFound: () => errors.notFound("run_not_found", "No run with this id"),
  callNotFound: () => errors.notFound("tool_call_not_found", "The run issued no tool call with this id"),
  alreadySubmitted: () =>
    errors.conflict("tool_result_already_submitted", "A result for this tool call was already submitted"),
  notWaiting: () => errors.conflict("run_not_waiting", "The run has ended; it takes no more tool results"),
  unavailable: () =>
    errors.unavailable("broker_unavailable", "The tool broker cannot reach Redis; retry shortly"),
  busy: () =>
    new RelayError({
      status: 503,
      type: "service_unavailable",
      code: "broker_busy",
      message: "This sidecar replica holds as many waits as it may (RELAY_BROKER_MAX_WAITERS); retry",
      headers: { "retry-after": "1" },
    }),
};

export type BrokerErrorCode =
  | "run_not_found"
  | "tool_call_not_found"
  | "tool_result_already_submitted"
  | "run_not_waiting";

/** The error a backend's outcome code stands for. */
export function brokerError(code: BrokerErrorCode): RelayError {
  switch (code) {
    case "run_not_found":
      return brokerErrors.runNotFound();
    case "tool_call_not_found":
      return brokerErrors.callNotFound();
    case "tool_result_already_submitted":
      return brokerErrors.alreadySubmitted();
    case "run_not_waiting":
      return brokerErrors.notWaiting();
  }
}
