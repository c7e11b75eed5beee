import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./types";

// A caller's id is kept so traces join up across systems, but only if it is short and plain:
// it is echoed into headers and logs.
const ACCEPTABLE = /^[A-Za-z0-9._:-]{1,128}$/;

export const requestId: MiddlewareHandler<AppEnv> = async (c, next) => {
  const given = c.req.header("x-request-id");
  const id = given && ACCEPTABLE.test(given) ? given : `req_${crypto.randomUUID().replaceAll("-", "")}`;
  c.set("requestId", id);
  await next();
  c.res.headers.set("x-request-id", id);
};
