import { Hono } from "hono";
import { z } from "zod";
import { errors } from "../../common/errors";
import { auditContext } from "../audit/context";
import { keyCache } from "../auth/key-cache";
import {
  createTenant,
  issueApiKey,
  listTenants,
  tenantKeyIds,
  updateTenantLimits,
} from "../db/queries/tenants";
import { adminGuardrailRoutes } from "../guardrails/routes";
import { readJson } from "../http/body";
import type { AppEnv } from "../http/types";
import { tenantLimitsInput, touchesBudgets } from "../limits/policy";
import { resetSpendCounters } from "../limits/status";
import { localModelRoutes } from "./local-models";

const tenantBody = z
  .object({
    name: z.string().trim().min(1).max(200),
    keyName: z.string().trim().min(1).max(120).optional(),
  })
  .strict();

const limitsBody = z.object({ limits: tenantLimitsInput }).strict();

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Operator endpoints. app.ts puts them behind RELAY_ADMIN_TOKEN at /admin (admin/auth.ts), and the
 * console behind an operator session at /console/api/admin, so both always offer the same routes.
 */
export const adminRoutes = new Hono<AppEnv>()
  .post("/tenants", async (c) => {
    const body = await readJson(c, tenantBody);
    const db = c.get("db").db;
    const audit = auditContext(c, "admin");
    const tenant = await createTenant(db, audit, body.name);
    if (!tenant) throw errors.conflict("tenant_exists", `A tenant named '${body.name}' already exists`);
    const issued = await issueApiKey(db, audit, tenant.id, body.keyName ?? "default");
    return c.json({ tenant, ...issued }, 201);
  })
  .get("/tenants", async (c) => c.json({ tenants: await listTenants(c.get("db").db) }))
  // Ceilings for every key of the tenant: a key's effective limit is the lower of its own and these.
  .patch("/tenants/:id", async (c) => {
    const id = c.req.param("id");
    const body = await readJson(c, limitsBody);
    const missing = () => errors.notFound("tenant_not_found", `No tenant ${id}`);
    if (!UUID.test(id)) throw missing();
    const db = c.get("db").db;
    const tenant = await updateTenantLimits(db, auditContext(c, "admin"), id, body.limits);
    if (!tenant) throw missing();
    keyCache.forgetTenant(id);
    if (touchesBudgets(body.limits)) await resetSpendCounters(c.get("config"), await tenantKeyIds(db, id));
    return c.json({ tenant });
  })
  .route("/local-models", localModelRoutes)
  .route("/guardrails", adminGuardrailRoutes);
