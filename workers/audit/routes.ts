import { Hono } from "hono";
import { z } from "zod";
import { listAudit, parseAuditCursor } from "../db/queries/audit";
import { readQuery } from "../http/body";
import type { AppEnv } from "../http/types";

const query = z.object({
  action: z.string().max(100).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  before: z.iso.datetime({ offset: true }).optional(),
  cursor: z
    .string()
    .transform((v, ctx) => {
      const cursor = parseAuditCursor(v);
      if (!cursor) {
        ctx.addIssue({ code: "custom", message: "not a cursor this API returned (nextCursor)" });
        return z.NEVER;
      }
      return cursor;
    })
    .optional(),
});

export const auditRoutes = new Hono<AppEnv>().get("/", async (c) => {
  const { action, limit, before, cursor } = readQuery(c, query);
  const page = await listAudit(c.get("db").db, c.get("caller").tenantId, {
    action,
    limit,
    before: before ? new Date(before) : undefined,
    cursor,
  });
  return c.json(page);
});
