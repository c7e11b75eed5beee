import { Hono, type MiddlewareHandler } from "hono";
import { z } from "zod";
import { secretsEqual } from "../../common/bytes";
import { errors } from "../../common/errors";
import { auditContext } from "../audit/context";
import { required } from "../config/env";
import { createTenant, issueApiKey, listTenants } from "../db/queries/tenants";
import { readJson } from "../http/body";
import type { AppEnv } from "../http/types";

/** Operator endpoints, behind RELAY_ADMIN_TOKEN (compared in constant time). */
const requireAdmin: MiddlewareHandler<AppEnv> = async (c, next) => {
  const expected = required(c.get("config"), "RELAY_ADMIN_TOKEN");
  const given = /^Bearer\s+(.+)$/i.exec(c.req.header("authorization") ?? "")?.[1]?.trim();
  if (!given)
    throw errors.unauthorized("missing_admin_token", "Send 'Authorization: Bearer <RELAY_ADMIN_TOKEN>'");
  if (!(await secretsEqual(given, expected)))
    throw errors.unauthorized("invalid_admin_token", "Invalid admin token");
  await next();
};

const tenantBody = z
  .object({
    name: z.string().trim().min(1).max(200),
    keyName: z.string().trim().min(1).max(120).optional(),
  })
  .strict();

export const adminRoutes = new Hono<AppEnv>()
  .use("*", requireAdmin)
  .post("/tenants", async (c) => {
    const body = await readJson(c, tenantBody);
    const db = c.get("db").db;
    const audit = auditContext(c, "admin");
    const tenant = await createTenant(db, audit, body.name);
    if (!tenant) throw errors.conflict("tenant_exists", `A tenant named '${body.name}' already exists`);
    const issued = await issueApiKey(db, audit, tenant.id, body.keyName ?? "default");
    return c.json({ tenant, ...issued }, 201);
  })
  .get("/tenants", async (c) => c.json({ tenants: await listTenants(c.get("db").db) }));
