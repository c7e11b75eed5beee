import type { Context } from "hono";
import { Hono } from "hono";
import { z } from "zod";
import { errors } from "../../common/errors";
import { auditContext, callerActor } from "../audit/context";
import { keyCache } from "../auth/key-cache";
import { listApiKeys, revokeApiKey, updateApiKey } from "../db/queries/api-keys";
import { describeGuardrail, listGuardrailRows } from "../db/queries/guardrails";
import { findTenantLimits, issueApiKey } from "../db/queries/tenants";
import { checkGuardrailPolicy } from "../guardrails/policy";
import { readJson } from "../http/body";
import type { AppEnv } from "../http/types";
import {
  effectiveLimits,
  type KeyPolicyInput,
  keyPolicy,
  keyPolicyInput,
  mergePolicy,
  restricts,
  touchesBudgets,
} from "../limits/policy";
import { limitStatus, resetSpendCounters } from "../limits/status";

const name = z.string().trim().min(1).max(120);

const createBody = z
  .object({ name: name.optional(), policy: keyPolicyInput.optional() })
  .strict()
  .optional()
  .transform((b) => b ?? {});

const patchBody = z
  .object({ name: name.optional(), policy: keyPolicyInput.optional() })
  .strict()
  .refine((b) => b.name !== undefined || b.policy !== undefined, "name or policy is required");

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const notFound = (id: string) => errors.notFound("key_not_found", `No API key ${id} in this tenant`);

/**
 * A key with limits of its own cannot mint, change or revoke other keys: otherwise a leaked,
 * limited key could lift its own limits by minting an unlimited one.
 */
function requireUnrestricted(c: Context<AppEnv>, action: string): void {
  if (restricts(c.get("caller").policy)) {
    throw errors.forbidden(
      "key_management_forbidden",
      `This key has limits of its own, so it cannot ${action}; use a key without a policy`,
    );
  }
}

/** Guardrail rules in a policy name guardrails of the catalog as it is now (read fresh, not cached). */
async function checkGuardrails(c: Context<AppEnv>, policy: KeyPolicyInput | undefined): Promise<void> {
  if (!policy?.guardrails) return;
  const rows = await listGuardrailRows(c.get("db").db);
  checkGuardrailPolicy(new Map(rows.map((r) => [r.name, describeGuardrail(r)])), policy.guardrails);
}

export const keyRoutes = new Hono<AppEnv>()
  .post("/", async (c) => {
    const body = await readJson(c, createBody);
    requireUnrestricted(c, "create keys");
    await checkGuardrails(c, body.policy);
    const { tenantId } = c.get("caller");
    const policy = keyPolicy.parse(mergePolicy({}, body.policy ?? {}));
    const issued = await issueApiKey(
      c.get("db").db,
      auditContext(c, callerActor(c)),
      tenantId,
      body.name ?? "default",
      policy,
    );
    return c.json(issued, 201);
  })
  .get("/", async (c) => {
    const db = c.get("db").db;
    const { tenantId } = c.get("caller");
    const [keys, ceilings] = await Promise.all([listApiKeys(db, tenantId), findTenantLimits(db, tenantId)]);
    const active = keys
      .filter((k) => k.revokedAt === null)
      .map((k) => ({ id: k.id, limits: effectiveLimits(k.policy, ceilings) }));
    const status = await limitStatus(c.get("config"), db, tenantId, active);
    return c.json({
      keys: keys.map((k) => ({ ...k, limits: status.get(k.id) ?? null })),
      tenantLimits: ceilings,
    });
  })
  .patch("/:id", async (c) => {
    const id = c.req.param("id");
    const body = await readJson(c, patchBody);
    if (!UUID.test(id)) throw notFound(id);
    requireUnrestricted(c, "change keys");
    await checkGuardrails(c, body.policy);
    const { tenantId } = c.get("caller");
    const key = await updateApiKey(c.get("db").db, auditContext(c, callerActor(c)), tenantId, id, body);
    if (!key) throw notFound(id);
    keyCache.forgetKey(id);
    if (body.policy && touchesBudgets(body.policy)) await resetSpendCounters(c.get("config"), [id]);
    return c.json({ key });
  })
  .delete("/:id", async (c) => {
    const id = c.req.param("id");
    const caller = c.get("caller");
    if (!UUID.test(id)) throw notFound(id);
    if (id !== caller.keyId) requireUnrestricted(c, "revoke other keys");
    if (id === caller.keyId && c.req.query("force") !== "true") {
      throw errors.badRequest(
        "self_revocation_requires_force",
        "This is the key making the request; add ?force=true to revoke it anyway",
        "force",
      );
    }
    const key = await revokeApiKey(c.get("db").db, auditContext(c, callerActor(c)), caller.tenantId, id);
    if (!key) throw notFound(id);
    keyCache.forgetKey(id);
    return c.json({ revoked: true, key });
  });
