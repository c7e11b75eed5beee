import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { type EnvelopeStyle, errorBody, errors, RelayError } from "../../common/errors";
import { describeDbError } from "../db/errors";
import type { AppEnv } from "./types";

// Anthropic-format clients read Anthropic's envelope; everyone else reads OpenAI's.
function styleFor(path: string): EnvelopeStyle {
  return path === "/v1/messages" || path.startsWith("/v1/messages/") ? "anthropic" : "openai";
}

export function errorResponse(c: Context<AppEnv>, err: RelayError): Response {
  const requestId = c.get("requestId") ?? "";
  const res = c.json(errorBody(err, requestId, styleFor(c.req.path)), err.status as 400);
  for (const [k, v] of Object.entries(err.headers)) res.headers.set(k, v);
  return res;
}

export const onError: ErrorHandler<AppEnv> = (err, c) => {
  if (err instanceof RelayError) return errorResponse(c, err);
  // Unexpected: log the type and message only; request bodies and bindings never reach a log.
  console.error(
    JSON.stringify({
      level: "error",
      msg: "unhandled error",
      requestId: c.get("requestId"),
      path: c.req.path,
      // A failed query's message carries its parameters (anyone's data): the driver's own error only.
      error: err instanceof Error ? `${err.name}: ${describeDbError(err)}` : String(err),
    }),
  );
  return errorResponse(c, errors.internal());
};

export const notFound: NotFoundHandler<AppEnv> = (c) =>
  errorResponse(c, errors.notFound("route_not_found", `No route for ${c.req.method} ${c.req.path}`));
