import { Hono, type MiddlewareHandler } from "hono";
import { adminRoutes } from "./admin/routes";
import { auditRoutes } from "./audit/routes";
import { requireApiKey } from "./auth/middleware";
import { loadConfig } from "./config/env";
import { credentialRoutes } from "./credentials/routes";
import { RequestDb } from "./db/client";
import { gatewayRoutes } from "./gateway/routes";
import { healthRoutes } from "./health/routes";
import { notFound, onError } from "./http/errors";
import { requestId } from "./http/request-id";
import type { AppEnv } from "./http/types";
import { keyRoutes } from "./keys/routes";
import { livekitRoutes, livekitWebhook } from "./livekit/routes";
import { usageRoutes } from "./usage/routes";

/** Config and a lazily opened database handle for every authenticated surface. */
const services: MiddlewareHandler<AppEnv> = async (c, next) => {
  const config = loadConfig(c.env);
  c.set("config", config);
  const handle = new RequestDb(config);
  c.set("db", handle);
  try {
    await next();
  } finally {
    if (handle.used) c.executionCtx.waitUntil(handle.close());
  }
};

export function createApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use("*", requestId);
  app.onError(onError);
  app.notFound(notFound);

  app.route("/", healthRoutes);

  app.use("/v1/*", services, requireApiKey);
  app.route("/v1/keys", keyRoutes);
  app.route("/v1/credentials", credentialRoutes);
  app.route("/v1/audit", auditRoutes);
  app.route("/v1/usage", usageRoutes);
  app.route("/v1/livekit", livekitRoutes);
  app.route("/v1", gatewayRoutes);

  app.use("/api/*", services);
  app.route("/api/webhooks/livekit", livekitWebhook);

  app.use("/admin/*", services);
  app.route("/admin", adminRoutes);
  return app;
}
