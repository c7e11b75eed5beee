import type { Context } from "hono";
import { Hono } from "hono";
import { z } from "zod";
import { errors } from "../../common/errors";
import { SESSION_HEADERS } from "../../common/session";
import { requestedGuardrails } from "../guardrails/plan";
import { modelName, readJsonWithRaw } from "../http/body";
import type { AppEnv } from "../http/types";
import type { Json } from "../translate/types";
import { gatewayContext } from "./context";
import { countTokens } from "./count-tokens";
import { applyFieldPolicy, type Endpoint } from "./fields";
import { listModels } from "./models";
import { proxy } from "./proxy";
import { keepItems, keepsItems, restoreItemReferences } from "./responses-items";

// Only what relay itself reads is checked here; the rest is the upstream's to judge.
const fallbacks = z.array(modelName.min(1)).max(10).optional();

const chatBody = z.looseObject({
  model: modelName.optional(),
  models: fallbacks,
  messages: z
    .array(z.looseObject({ role: z.enum(["system", "developer", "user", "assistant", "tool", "function"]) }))
    .min(1),
  stream: z.boolean().nullable().optional(),
});

const anthropicMessages = z
  .array(
    z.looseObject({
      role: z.enum(["user", "assistant"]),
      content: z.union([z.string(), z.array(z.looseObject({ type: z.string() }))]),
    }),
  )
  .min(1);

const messagesBody = z.looseObject({
  model: modelName.optional(),
  models: fallbacks,
  max_tokens: z.number().int().positive(),
  messages: anthropicMessages,
  stream: z.boolean().optional(),
});

export const countTokensBody = z.looseObject({
  model: modelName.optional(),
  messages: anthropicMessages,
});

const responsesBody = z.looseObject({
  model: modelName.optional(),
  models: fallbacks,
  input: z.union([z.string(), z.array(z.unknown())]).optional(),
  stream: z.boolean().nullable().optional(),
  store: z.boolean().nullable().optional(),
});

const embeddingsBody = z.looseObject({
  model: modelName.optional(),
  models: fallbacks,
  input: z.union([z.string(), z.array(z.string()), z.array(z.number()), z.array(z.array(z.number()))]),
});

function headersNamed(c: Context<AppEnv>, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of names) {
    const v = c.req.header(h);
    if (v) out[h] = v;
  }
  return out;
}

async function handle(c: Context<AppEnv>, endpoint: Endpoint, schema: z.ZodType<Json>): Promise<Response> {
  const config = c.get("config");
  const { value, raw } = await readJsonWithRaw(c, schema, { allowNul: true });
  const body = value as Json & { model?: string; models?: string[]; stream?: boolean | null };
  // The client's opt-in to guardrails is relay's to read and never reaches the upstream.
  const guardrails = requestedGuardrails(body.guardrails);
  const hadGuardrails = "guardrails" in body;
  if (hadGuardrails) delete body.guardrails;
  const warnings = applyFieldPolicy(endpoint, body, config);

  // OpenRouter's convention: `model` first, then `models` in order; `models` alone names the primary.
  const candidates = [
    ...new Set([body.model, ...(body.models ?? [])].filter((m): m is string => Boolean(m))),
  ];
  let changed = warnings.length > 0 || hadGuardrails;
  if (candidates.length === 0) {
    if (!config.DEFAULT_MODEL) throw errors.badRequest("model_required", "model is required", "model");
    candidates.push(config.DEFAULT_MODEL);
  }
  if (body.model !== candidates[0]) {
    body.model = candidates[0];
    changed = true;
  }
  const ctx = gatewayContext(c);
  let keep: ((items: Json[]) => Promise<void>) | undefined;
  const keepItemsToo = endpoint === "responses" && keepsItems(config, body);
  if (endpoint === "responses") {
    if (await restoreItemReferences(config, ctx.caller.tenantId, body)) changed = true;
    if (keepItemsToo)
      keep = (items) => {
        const kept = keepItems(config, ctx.caller.tenantId, items);
        ctx.waitUntil(kept);
        return kept;
      };
  }
  return proxy(ctx, {
    client: {
      endpoint,
      body,
      raw: changed ? JSON.stringify(body) : raw,
      stream: endpoint !== "embeddings" && body.stream === true,
      // Read only by the routes that forward them.
      get anthropicHeaders() {
        return headersNamed(c, ["anthropic-version", "anthropic-beta"]);
      },
      get sessionHeaders() {
        return headersNamed(c, SESSION_HEADERS);
      },
      keepItems: keepItemsToo,
    },
    candidates,
    warnings,
    keep,
    guardrails,
  });
}

export const gatewayRoutes = new Hono<AppEnv>()
  .post("/chat/completions", (c) => handle(c, "chat", chatBody))
  .post("/messages", (c) => handle(c, "messages", messagesBody))
  .post("/messages/count_tokens", async (c) => {
    const { value } = await readJsonWithRaw(c, countTokensBody, { allowNul: true });
    return countTokens(gatewayContext(c), value, headersNamed(c, ["anthropic-version", "anthropic-beta"]));
  })
  .post("/responses", (c) => handle(c, "responses", responsesBody))
  .post("/embeddings", (c) => handle(c, "embeddings", embeddingsBody))
  .get("/models", async (c) => c.json({ object: "list", data: await listModels(c) }));
