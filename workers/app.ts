import { Hono } from "hono";
import { requireAdmin } from "./admin/auth";
import { adminRoutes } from "./admin/routes";
import { auditRoutes } from "./audit/routes";
import { requireApiKey } from "./auth/middleware";
import { consoleRoutes } from "./console/routes";
import { serveShell, wantsHtml } from "./console/shell";
import { credentialRoutes } from "./credentials/routes";
import { gatewayRoutes } from "./gateway/routes";
import { guardrailRoutes } from "./guardrails/routes";
import { healthRoutes } from "./health/routes";
import { notFound, onError } from "./http/errors";
import { requestId } from "./http/request-id";
import { services } from "./http/services";
import type { AppEnv } from "./http/types";
import { keyRoutes } from "./keys/routes";
import { livekitRoutes, livekitWebhook } from "./livekit/routes";
import { runRoutes, workflowRoutes } from "./runs/routes";
import { usageRoutes } from "./usage/routes";

export function createApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use("*", requestId);
  app.onError(onError);
  app.notFound(notFound);

  // The base URL: the web console for a browser, the JSON description (health/routes.ts) for the rest.
  app.get("/", async (c, next) => {
    if (!wantsHtml(c)) return next();
    await services(c, async () => {
      c.res = await serveShell(c);
    });
    return c.res;
  });
  app.route("/", healthRoutes);

  app.use("/v1/*", services, requireApiKey);
  app.route("/v1/keys", keyRoutes);
  app.route("/v1/credentials", credentialRoutes);
  app.route("/v1/audit", auditRoutes);
  app.route("/v1/usage", usageRoutes);
  app.route("/v1/livekit", livekitRoutes);
  app.route("/v1/runs", runRoutes);
  app.route("/v1/guardrails", guardrailRoutes);
  app.route("/v1/workflows", workflowRoutes);
  app.route("/v1", gatewayRoutes);

  app.use("/api/*", services);
  app.route("/api/webhooks/livekit", livekitWebhook);

  app.use("/admin/*", services, requireAdmin);
  app.route("/admin", adminRoutes);

  app.use("/console/*", services);
  app.route("/console", consoleRoutes);
  return app;
}
