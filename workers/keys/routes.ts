import { Hono } from "hono";
import { z } from "zod";
import { errors } from "../../common/errors";
import { auditContext, callerActor } from "../audit/context";
import { keyCache } from "../auth/key-cache";
import { listApiKeys, revokeApiKey } from "../db/queries/api-keys";
import { issueApiKey } from "../db/queries/tenants";
import { readJson } from "../http/body";
import type { AppEnv } from "../http/types";

const createBody = z
  .object({ name: z.string().trim().min(1).max(120).optional() })
  .strict()
  .optional()
  .transform((b) => b ?? {});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const keyRoutes = new Hono<AppEnv>()
  .post("/", async (c) => {
    const body = await readJson(c, createBody);
    const { tenantId } = c.get("caller");
    const issued = await issueApiKey(
      c.get("db").db,
      auditContext(c, callerActor(c)),
      tenantId,
      body.name ?? "default",
    );
    return c.json(issued, 201);
  })
  .get("/", async (c) => c.json({ keys: await listApiKeys(c.get("db").db, c.get("caller").tenantId) }))
  .delete("/:id", async (c) => {
    const id = c.req.param("id");
    const caller = c.get("caller");
    if (!UUID.test(id)) throw errors.notFound("key_not_found", `No API key ${id} in this tenant`);
    if (id === caller.keyId && c.req.query("force") !== "true") {
      throw errors.badRequest(
        "self_revocation_requires_force",
        "This is the key making the request; add ?force=true to revoke it anyway",
        "force",
      );
    }
    const key = await revokeApiKey(c.get("db").db, auditContext(c, callerActor(c)), caller.tenantId, id);
    if (!key) throw errors.notFound("key_not_found", `No API key ${id} in this tenant`);
    keyCache.forgetKey(id);
    return c.json({ revoked: true, key });
  });
