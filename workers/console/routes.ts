import { Hono, type MiddlewareHandler } from "hono";
import { errors } from "../../common/errors";
import { adminRoutes } from "../admin/routes";
import { auditRoutes } from "../audit/routes";
import { credentialRoutes } from "../credentials/routes";
import { listModels } from "../gateway/models";
import { guardrailRoutes } from "../guardrails/routes";
import type { AppEnv } from "../http/types";
import { keyRoutes } from "../keys/routes";
import { livekitRoutes } from "../livekit/routes";
import { runRoutes, workflowRoutes } from "../runs/routes";
import { usageRoutes } from "../usage/routes";
import { requireSession } from "./auth";
import { sessionRoutes } from "./session-routes";
import { serveAsset, serveShell } from "./shell";

// The console's pages read and change data through the very routes the API serves (same
// validation, same tenant scoping, same error messages), mounted under /console/api behind a
// session cookie instead of an API key. A page for a new API is one line here plus its page in
// console/src (see console/src/main.tsx).

interface TenantApi {
  path: string;
  routes: Hono<AppEnv>;
  /**
   * Only reads: the pages show these and change nothing. Runs are started, answered and canceled
   * by the programs that own them (with an API key), and a guardrail dry run is an API call too.
   */
  readOnly?: true;
}

/** Tenant APIs: each runs as the key the session signed in with, so it sees that key's tenant only. */
const TENANT_APIS: TenantApi[] = [
  { path: "/keys", routes: keyRoutes },
  { path: "/credentials", routes: credentialRoutes },
  { path: "/usage", routes: usageRoutes },
  { path: "/audit", routes: auditRoutes },
  { path: "/livekit", routes: livekitRoutes },
  {
    path: "/models",
    routes: new Hono<AppEnv>().get("/", async (c) => c.json({ object: "list", data: await listModels(c) })),
  },
  { path: "/runs", routes: runRoutes, readOnly: true },
  { path: "/workflows", routes: workflowRoutes, readOnly: true },
  { path: "/guardrails", routes: guardrailRoutes, readOnly: true },
];

const readOnly: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.req.method !== "GET" && c.req.method !== "HEAD") {
    throw errors.notFound("route_not_found", `No console route for ${c.req.method} ${c.req.path}`);
  }
  await next();
};

export const consoleRoutes = new Hono<AppEnv>().route("/api/session", sessionRoutes);

for (const api of TENANT_APIS) {
  consoleRoutes.use(`/api${api.path}/*`, requireSession("tenant"));
  if (api.readOnly) consoleRoutes.use(`/api${api.path}/*`, readOnly);
  consoleRoutes.route(`/api${api.path}`, api.routes);
}

// Operator APIs: everything /admin offers with the admin token, behind an operator session.
consoleRoutes.use("/api/admin/*", requireSession("operator"));
consoleRoutes.route("/api/admin", adminRoutes);

consoleRoutes.get("/assets/*", serveAsset);
// Every other page path is the one-page app, which routes in the browser.
consoleRoutes.get("/", serveShell);
consoleRoutes.get("/*", async (c, next) => (c.req.path.startsWith("/console/api/") ? next() : serveShell(c)));
