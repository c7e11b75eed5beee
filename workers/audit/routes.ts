import { Hono } from "hono";
import { z } from "zod";
import { errors } from "../../common/errors";
import { listAudit } from "../db/queries/audit";
import type { AppEnv } from "../http/types";

const query = z.object({
  action: z.string().max(100).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  before: z.iso.datetime({ offset: true }).optional(),
});

export const auditRoutes = new Hono<AppEnv>().get("/", async (c) => {
  const parsed = query.safeParse(c.req.query());
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw errors.badRequest(
      "invalid_query",
      `${issue?.path.join(".")}: ${issue?.message}`,
      issue?.path.join("."),
    );
  }
  const { action, limit, before } = parsed.data;
  const events = await listAudit(c.get("db").db, c.get("caller").tenantId, {
    action,
    limit,
    before: before ? new Date(before) : undefined,
  });
  return c.json({ events });
});
