// What a database failure was, for logs and readiness checks. drizzle wraps driver errors in a
// "Failed query: <sql> params: <values>" message: the values may be anyone's data, so they never
// leave here; the driver's own error (its message, SQLSTATE and detail) is what explains a failure.

interface DriverError {
  message?: unknown;
  code?: unknown;
  detail?: unknown;
  cause?: unknown;
}

function driverError(err: unknown): DriverError | null {
  if (!err || typeof err !== "object") return null;
  const cause = (err as DriverError).cause;
  if (cause && typeof cause === "object") return cause as DriverError;
  return err as DriverError;
}

/** The SQLSTATE of a failed query, if the database answered at all. */
export function sqlState(err: unknown): string | undefined {
  const inner = driverError(err);
  const code = inner?.code ?? (err as DriverError | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** A one-line description: the database's message, SQLSTATE and detail; never parameters or userinfo. */
export function describeDbError(err: unknown): string {
  const inner = driverError(err);
  let text =
    inner && typeof inner.message === "string"
      ? inner.message
      : err instanceof Error
        ? err.message
        : String(err);
  // A wrapper without a cause still carries the parameters after "params:".
  text = text.replace(/\s*params:[\s\S]*$/, "");
  const state = sqlState(err);
  if (state) text += ` (SQLSTATE ${state})`;
  if (inner && typeof inner.detail === "string" && inner.detail) text += `: ${inner.detail}`;
  return text.replace(/\/\/[^@/\s]+@/g, "//***@").slice(0, 500);
}
