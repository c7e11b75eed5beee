import type { MiddlewareHandler } from "hono";
import { secretsEqual } from "../../common/bytes";
import { errors } from "../../common/errors";
import { blockedMs, clientAddress, failedAuthentication, tooManyFailures } from "../auth/failures";
import { required } from "../config/env";
import type { AppEnv } from "../http/types";

/**
 * Operator endpoints, behind RELAY_ADMIN_TOKEN (compared in constant time). Wrong tokens count
 * against the client address like wrong API keys do.
 */
export const requireAdmin: MiddlewareHandler<AppEnv> = async (c, next) => {
  const config = c.get("config");
  const expected = required(config, "RELAY_ADMIN_TOKEN");
  const given = /^Bearer\s+(.+)$/i.exec(c.req.header("authorization") ?? "")?.[1]?.trim();
  if (!given)
    throw errors.unauthorized("missing_admin_token", "Send 'Authorization: Bearer <RELAY_ADMIN_TOKEN>'");
  const address = clientAddress(c.req.header("cf-connecting-ip"));
  const blocked = blockedMs(config, address);
  if (blocked > 0) throw tooManyFailures(blocked);
  if (!(await secretsEqual(given, expected))) {
    throw await failedAuthentication(
      config,
      address,
      errors.unauthorized("invalid_admin_token", "Invalid admin token"),
    );
  }
  await next();
};
