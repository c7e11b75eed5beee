import { type Context, Hono } from "hono";
import { z } from "zod";
import { errors, RelayError } from "../../common/errors";
import { guardrailTokenAad, seal } from "../credentials/crypto";
import { masterKeys } from "../credentials/master-keys";
import { checkUpstreamUrl } from "../credentials/ssrf";
import {
  deleteGuardrail,
  describeGuardrail,
  findGuardrail,
  type GuardrailWrite,
  insertGuardrail,
  listExecutions,
  listGuardrailRows,
  summariseExecutions,
  updateGuardrail,
} from "../db/queries/guardrails";
import { readJson, readQuery } from "../http/body";
import type { AppEnv } from "../http/types";
import { drainOutbox } from "../outbox/outbox";
import { guardrailCatalog } from "./catalog";
import { BUILTINS, checkConfig } from "./config";
import { GuardrailRun } from "./execute";
import { discoverable, guardrailErrors, requestedGuardrails, resolvePlan } from "./plan";
import { guardrailPolicyOf } from "./policy";
import { FAILURE_POLICIES, MODES } from "./types";

const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

const catalogFields = {
  description: z.string().max(2000).optional(),
  modes: z.array(z.enum(MODES)).min(1).max(3).optional(),
  defaultOn: z.boolean().optional(),
  failurePolicy: z.enum(FAILURE_POLICIES).optional(),
  config: z.record(z.string(), z.unknown()).optional(),
  configSchema: z.record(z.string(), z.unknown()).nullable().optional(),
  enabled: z.boolean().optional(),
  endpointUrl: z.string().max(2048).optional(),
  timeoutMs: z.number().int().min(50).max(60_000).optional(),
  // Write-only: stored encrypted, never returned; null removes it.
  bearerToken: z.string().min(1).max(4096).nullable().optional(),
};
const createBody = z.object({ name: z.string(), kind: z.literal("http"), ...catalogFields }).strict();
const updateBody = z.object(catalogFields).strict();

function vetEndpoint(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  // The operator's own service may well be on a private network; metadata services never are.
  const check = checkUpstreamUrl(url, true);
  if (!check.ok)
    throw errors.badRequest("invalid_endpoint_url", `endpointUrl ${check.reason}`, "endpointUrl");
  return check.url.href;
}

async function sealToken(c: Context<AppEnv>, name: string, token: string | null | undefined) {
  if (token === undefined) return undefined;
  if (token === null) return null;
  const keys = await masterKeys(c.get("config"));
  return seal(keys.current, token, guardrailTokenAad(name));
}

const notFound = (name: string) => errors.notFound("guardrail_not_found", `No guardrail named '${name}'`);

/** The guardrail a path names; one no guardrail can have (a NUL, a slash) is not looked up. */
function pathName(c: Context<AppEnv>): string {
  const name = c.req.param("name") ?? "";
  if (!NAME.test(name)) throw notFound(name.slice(0, 64));
  return name;
}

const isBuiltin = (name: string) => Object.hasOwn(BUILTINS, name);

const executionQuery = z.object({
  tenant: z.uuid().optional(),
  guardrail: z.string().max(64).optional(),
  action: z.enum(["allow", "block", "modify", "warn"]).optional(),
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  before: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

/** The operator's catalog, under /admin/guardrails. */
export const adminGuardrailRoutes = new Hono<AppEnv>()
  .get("/", async (c) => {
    const rows = await listGuardrailRows(c.get("db").db);
    return c.json({ guardrails: rows.map(describeGuardrail) });
  })
  .post("/", async (c) => {
    const body = await readJson(c, createBody);
    if (!NAME.test(body.name)) {
      throw errors.badRequest(
        "invalid_guardrail_name",
        "Guardrail names are 1-64 of a-z, 0-9, '-' and '_'",
        "name",
      );
    }
    if (!body.endpointUrl)
      throw errors.badRequest("endpoint_url_required", "An http guardrail needs endpointUrl", "endpointUrl");
    const modes = body.modes ?? ["pre_call", "post_call"];
    if (modes.includes("during_call")) {
      throw errors.badRequest(
        "invalid_modes",
        "http guardrails run before and after the call, not during a stream",
        "modes",
      );
    }
    const def = { name: body.name, kind: "http" as const, configSchema: body.configSchema ?? null };
    checkConfig(def, body.config ?? {}, "config");
    const row = await insertGuardrail(c.get("db").db, body.name, {
      kind: "http",
      modes,
      description: body.description,
      defaultOn: body.defaultOn,
      failurePolicy: body.failurePolicy,
      config: body.config,
      configSchema: body.configSchema ?? null,
      enabled: body.enabled,
      endpointUrl: vetEndpoint(body.endpointUrl),
      timeoutMs: body.timeoutMs ?? null,
      token: await sealToken(c, body.name, body.bearerToken),
    });
    if (!row) throw errors.conflict("guardrail_exists", `A guardrail named '${body.name}' already exists`);
    guardrailCatalog.forget();
    return c.json({ guardrail: describeGuardrail(row) }, 201);
  })
  .patch("/:name", async (c) => {
    const name = pathName(c);
    const body = await readJson(c, updateBody);
    const db = c.get("db").db;
    const current = await findGuardrail(db, name);
    if (!current) throw notFound(name);
    const def = describeGuardrail(current);
    if (body.modes) {
      const allowed =
        def.kind === "builtin" && isBuiltin(name) ? (BUILTINS[name]?.modes ?? []) : ["pre_call", "post_call"];
      const bad = body.modes.find((m) => !allowed.includes(m));
      if (bad) throw errors.badRequest("invalid_modes", `'${name}' cannot run ${bad}`, "modes");
    }
    if (def.kind === "builtin" && (body.endpointUrl !== undefined || body.bearerToken !== undefined)) {
      throw errors.badRequest(
        "builtin_guardrail",
        `'${name}' runs inside relay: it has no endpoint`,
        "endpointUrl",
      );
    }
    const configSchema = body.configSchema === undefined ? def.configSchema : body.configSchema;
    if (body.config !== undefined || body.configSchema !== undefined) {
      checkConfig({ ...def, configSchema }, body.config ?? def.config, "config");
    }
    const write: GuardrailWrite = {
      description: body.description,
      modes: body.modes,
      defaultOn: body.defaultOn,
      failurePolicy: body.failurePolicy,
      config: body.config,
      configSchema: body.configSchema,
      enabled: body.enabled,
      endpointUrl: vetEndpoint(body.endpointUrl),
      timeoutMs: body.timeoutMs,
      token: await sealToken(c, name, body.bearerToken),
    };
    const row = await updateGuardrail(db, name, write);
    if (!row) throw notFound(name);
    guardrailCatalog.forget();
    return c.json({ guardrail: describeGuardrail(row) });
  })
  .delete("/:name", async (c) => {
    const name = pathName(c);
    if (isBuiltin(name)) {
      throw errors.badRequest(
        "builtin_guardrail",
        `'${name}' is built in: disable it instead (PATCH {"enabled": false})`,
        "name",
      );
    }
    if (!(await deleteGuardrail(c.get("db").db, name))) throw notFound(name);
    guardrailCatalog.forget();
    return c.body(null, 204);
  })
  .get("/executions", async (c) => {
    const q = readQuery(c, executionQuery);
    await drainOutbox(c.get("config"), { maxBatches: 5, forRead: true, db: c.get("db").db }).catch(() => {});
    const rows = await listExecutions(c.get("db").db, {
      tenantId: q.tenant,
      guardrail: q.guardrail,
      action: q.action,
      from: q.from ? new Date(q.from) : undefined,
      to: q.to ? new Date(q.to) : undefined,
      before: q.before ? new Date(q.before) : undefined,
      limit: q.limit,
    });
    return c.json({ executions: rows.map((r) => ({ ...r, createdAt: r.createdAt.toISOString() })) });
  })
  .get("/summary", async (c) => {
    const q = readQuery(c, executionQuery);
    await drainOutbox(c.get("config"), { maxBatches: 5, forRead: true, db: c.get("db").db }).catch(() => {});
    const rows = await summariseExecutions(c.get("db").db, {
      tenantId: q.tenant,
      guardrail: q.guardrail,
      from: q.from ? new Date(q.from) : undefined,
      to: q.to ? new Date(q.to) : undefined,
    });
    return c.json({ summary: rows });
  });

const testBody = z
  .object({
    guardrails: z.unknown().optional(),
    mode: z.enum(MODES),
    format: z.enum(["chat", "messages", "responses"]).default("chat"),
    input: z.record(z.string(), z.unknown()),
  })
  .strict();

/** What a key may ask for (/v1/guardrails), and a dry look at what its plan would do (/test). */
export const guardrailRoutes = new Hono<AppEnv>()
  .get("/", async (c) => {
    const policy = guardrailPolicyOf(c.get("caller"));
    const catalog = await guardrailCatalog.defs(c.get("db"));
    const mandatory = new Set(policy.mandatory);
    return c.json({
      guardrails: discoverable(catalog, policy).map((d) => ({
        name: d.name,
        description: d.description,
        modes: d.modes,
        defaultOn: d.defaultOn,
        failurePolicy: d.failurePolicy,
        configSchema: d.configSchema,
        applies: d.defaultOn ? "default" : mandatory.has(d.name) ? "mandatory" : "on_request",
      })),
    });
  })
  .post("/test", async (c) => {
    const body = await readJson(c, testBody);
    if (body.mode === "during_call") {
      throw guardrailErrors.invalid("during_call cannot be tried on a sample; test pre_call or post_call");
    }
    const caller = c.get("caller");
    const catalog = await guardrailCatalog.defs(c.get("db"));
    const plan = resolvePlan(catalog, guardrailPolicyOf(caller), requestedGuardrails(body.guardrails), false);
    const run = new GuardrailRun(
      {
        config: c.get("config"),
        db: c.get("db"),
        requestId: c.get("requestId"),
        tenantId: caller.tenantId,
        keyId: caller.keyId,
        runId: null,
        route: "/v1/guardrails/test",
        model: "",
        waitUntil: (t) => c.executionCtx.waitUntil(t),
      },
      plan,
      body.format,
    );
    const input = structuredClone(body.input);
    let stopped: { code: string; message: string } | null = null;
    try {
      if (body.mode === "pre_call") await run.pre(input);
      else await run.post(input);
    } catch (err) {
      if (!(err instanceof RelayError)) throw err;
      stopped = { code: err.code, message: err.message };
    }
    return c.json({
      input,
      stopped,
      applied_guardrails: plan.map((g) => g.def.name),
      results: run.executions().map((r) => ({
        guardrail_name: r.guardrail,
        mode: r.mode,
        action: r.action,
        failure_policy: r.failurePolicy,
        latency_ms: r.latencyMs,
        reason: r.reason,
        metadata: r.metadata,
      })),
    });
  });
