import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import { errors } from "../../../common/errors";
import type { Broker } from "./types";

// The broker's HTTP API, behind the sidecar's internal auth. The Worker names the tenant in every
// call; a run is only ever seen through the tenant that registered it.

const MAX_WAIT_MS = 60_000;
const DEFAULT_WAIT_MS = 25_000;
const MAX_CALLS_PER_REQUEST = 256;

// Run ids become part of Redis keys inside a hash tag, so braces are out.
const runId = z
  .string()
  .regex(/^[A-Za-z0-9_.:-]{1,128}$/, "run ids are 1-128 letters, digits, '_', '.', ':', '-'");
// Tool-use ids come from providers: any printable ASCII without spaces.
const toolUseId = z
  .string()
  .regex(/^[\x21-\x7e]{1,256}$/, "tool-use ids are 1-256 printable ASCII characters");
const tenantId = z.string().min(1).max(128);

const runBody = z.object({ tenantId });
const callsBody = z.object({ tenantId, ids: z.array(toolUseId).min(1).max(MAX_CALLS_PER_REQUEST) });
// The key must be there; any JSON value, null included, is a result.
const resultBody = z
  .object({ tenantId, output: z.unknown().optional() })
  .refine((b) => "output" in b, { message: "output is required (null is allowed)", path: ["output"] });
const endBody = z.object({ tenantId, status: z.enum(["completed", "failed", "canceled"]) });
const waitQuery = z.object({
  tenantId,
  waitMs: z.coerce.number().int().min(0).max(MAX_WAIT_MS).default(DEFAULT_WAIT_MS),
});

function valid<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const param = issue && issue.path.length > 0 ? issue.path.join(".") : null;
  const message = issue ? (param ? `${param}: ${issue.message}` : issue.message) : "Invalid request";
  throw errors.badRequest("invalid_request", message, param);
}

async function body<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  let value: unknown;
  try {
    value = await c.req.json();
  } catch {
    throw errors.badRequest("invalid_json", "Request body is not valid JSON");
  }
  return valid(schema, value);
}

const param = <S extends z.ZodType>(c: Context, name: string, schema: S): z.output<S> =>
  valid(schema, c.req.param(name));

export function brokerRoutes(broker: Broker, maxBodyBytes: number): Hono {
  const app = new Hono();
  app.use(
    "/broker/*",
    bodyLimit({
      maxSize: maxBodyBytes,
      onError: () => {
        throw errors.tooLarge(maxBodyBytes);
      },
    }),
  );

  app.put("/broker/runs/:runId", async (c) => {
    const id = param(c, "runId", runId);
    const { tenantId } = await body(c, runBody);
    const status = await broker.registerRun(id, tenantId);
    return c.json({ run: { id, tenantId, status } });
  });

  app.post("/broker/runs/:runId/calls", async (c) => {
    const id = param(c, "runId", runId);
    const { tenantId, ids } = await body(c, callsBody);
    await broker.addCalls(id, tenantId, ids);
    return c.json({ ok: true });
  });

  app.post("/broker/runs/:runId/calls/:toolUseId/result", async (c) => {
    const id = param(c, "runId", runId);
    const call = param(c, "toolUseId", toolUseId);
    const { tenantId, output } = await body(c, resultBody);
    await broker.submitResult(id, tenantId, call, JSON.stringify(output));
    return c.json({ ok: true });
  });

  app.get("/broker/runs/:runId/calls/:toolUseId/result", async (c) => {
    const id = param(c, "runId", runId);
    const call = param(c, "toolUseId", toolUseId);
    const { tenantId, waitMs } = valid(waitQuery, c.req.query());
    const output = await broker.waitResult(id, tenantId, call, waitMs, c.req.raw.signal);
    if (output === null) return c.body(null, 204);
    // The stored text is already JSON: framed as is, not parsed and serialised again.
    return c.body(`{"output":${output}}`, 200, { "content-type": "application/json" });
  });

  app.post("/broker/runs/:runId/end", async (c) => {
    const id = param(c, "runId", runId);
    const { tenantId, status } = await body(c, endBody);
    const final = await broker.endRun(id, tenantId, status);
    return c.json({ run: { id, tenantId, status: final } });
  });

  return app;
}
