import { Hono, type MiddlewareHandler } from "hono";
import type { Redis } from "ioredis";
import { secretsEqual } from "../../common/bytes";
import { errorBody, errors, RelayError } from "../../common/errors";
import { verifyInternalJwt } from "../../common/internal-jwt";
import { brokerRoutes } from "./broker/routes";
import type { Broker } from "./broker/types";
import type { SidecarConfig } from "./config";
import { lifecycleErrors } from "./lifecycle/errors";
import type { LifecycleManager } from "./lifecycle/manager";
import { lifecycleRoutes } from "./lifecycle/routes";
import { createRedisRestApp } from "./redis-rest/app";

export interface SidecarDeps {
  config: SidecarConfig;
  redis: Redis | null;
  lifecycle: LifecycleManager | null;
  broker: Broker;
}

/** The Worker's internal JWT, or the operator token. Everything but /health needs one. */
function requireInternal(config: SidecarConfig): MiddlewareHandler {
  return async (c, next) => {
    const token = /^Bearer\s+(.+)$/i.exec(c.req.header("authorization") ?? "")?.[1]?.trim();
    const ok =
      token !== undefined &&
      ((config.RELAY_OPERATOR_TOKEN !== undefined &&
        (await secretsEqual(token, config.RELAY_OPERATOR_TOKEN))) ||
        (config.RELAY_INTERNAL_SECRET !== undefined &&
          (await verifyInternalJwt(token, config.RELAY_INTERNAL_SECRET))));
    if (!ok) {
      throw errors.unauthorized(
        "invalid_internal_token",
        "Send the Worker's internal JWT or the operator token",
      );
    }
    await next();
  };
}

export function createSidecarApp({ config, redis, lifecycle, broker }: SidecarDeps): Hono {
  const app = new Hono();
  app.onError((err, c) => {
    const e = err instanceof RelayError ? err : errors.internal();
    if (!(err instanceof RelayError))
      console.error(JSON.stringify({ level: "error", msg: "unhandled", error: String(err) }));
    const res = c.json(errorBody(e, c.req.header("x-request-id") ?? ""), e.status as 400);
    for (const [k, v] of Object.entries(e.headers)) res.headers.set(k, v);
    return res;
  });

  app.use("*", async (c, next) => {
    await next();
    if (!c.res.headers.has("x-request-id")) {
      c.res.headers.set("x-request-id", c.req.header("x-request-id") ?? crypto.randomUUID());
    }
  });

  app.get("/health", (c) => {
    if (config.RELAY_INSTANCE_ID) c.header("x-relay-instance", config.RELAY_INSTANCE_ID);
    return c.json({ status: "ok" });
  });

  const internal = requireInternal(config);
  app.use("/readyz", internal);
  app.use("/v1/*", internal);
  app.use("/relay/*", internal);
  app.use("/broker/*", internal);

  app.get("/readyz", async (c) => {
    const brokerStats = broker.stats();
    if (!redis) {
      return c.json({
        status: "ready",
        checks: { redis: { ok: true, configured: false } },
        broker: brokerStats,
      });
    }
    const started = Date.now();
    try {
      await redis.ping();
      return c.json({
        status: "ready",
        checks: { redis: { ok: true, latencyMs: Date.now() - started } },
        broker: brokerStats,
      });
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      return c.json(
        { status: "not_ready", checks: { redis: { ok: false, error } }, broker: brokerStats },
        503,
      );
    }
  });

  app.route("/", brokerRoutes(broker, config.RELAY_BROKER_MAX_BODY_BYTES));

  if (lifecycle) {
    app.route("/", lifecycleRoutes(lifecycle));
  } else {
    // No local models: an empty list, so the Worker's model listing has nothing to complain about.
    app.get("/v1/models", (c) => c.json({ object: "list", data: [] }));
    app.all("/v1/*", () => {
      throw lifecycleErrors.lifecycleDisabled();
    });
  }

  if (redis && config.RELAY_REDIS_REST_TOKEN) {
    app.route("/redis", createRedisRestApp(redis, config.RELAY_REDIS_REST_TOKEN));
  }

  app.notFound((c) =>
    c.json(
      errorBody(errors.notFound("route_not_found", `No route for ${c.req.method} ${c.req.path}`), ""),
      404,
    ),
  );
  return app;
}
