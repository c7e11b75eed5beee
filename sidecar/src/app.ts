import { Hono } from "hono";
import type { Redis } from "ioredis";
import { errorBody, errors } from "../../common/errors";
import type { SidecarConfig } from "./config";
import { createRedisRestApp } from "./redis-rest/app";

export interface SidecarDeps {
  config: SidecarConfig;
  redis: Redis | null;
}

export function createSidecarApp({ config, redis }: SidecarDeps): Hono {
  const app = new Hono();

  app.use("*", async (c, next) => {
    await next();
    if (!c.res.headers.has("x-request-id")) {
      c.res.headers.set("x-request-id", c.req.header("x-request-id") ?? crypto.randomUUID());
    }
  });

  app.get("/health", (c) => c.json({ status: "ok" }));

  app.get("/readyz", async (c) => {
    if (!redis) return c.json({ status: "ready", checks: { redis: { ok: true, configured: false } } });
    const started = Date.now();
    try {
      await redis.ping();
      return c.json({ status: "ready", checks: { redis: { ok: true, latencyMs: Date.now() - started } } });
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      return c.json({ status: "not_ready", checks: { redis: { ok: false, error } } }, 503);
    }
  });

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
