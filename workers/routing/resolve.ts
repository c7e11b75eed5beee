import { errors } from "../../common/errors";
import type { Config, Env } from "../config/env";
import type { DecryptedCredential } from "../db/queries/credentials";
import { type LocalModel, sidecarBaseUrl, sidecarToken } from "../local/sidecar";

/** The wire format an upstream speaks. */
export type Wire = "openai" | "anthropic";

/** Where one request goes: everything the proxy needs, with the model prefix already stripped. */
export interface Target {
  /** What `x-relay-provider` says: `anthropic`, `openai`, a credential name, `cloud`, or `fallback`. */
  provider: string;
  wire: Wire;
  baseUrl: string;
  apiKey: string | null;
  /** The model name sent upstream. */
  model: string;
  /** OpenAI's own API (not a server at a custom baseUrl): it serves the Responses API natively. */
  responsesApi?: boolean;
}

export interface RouteContext {
  config: Config;
  env: Env;
  credential(name: string): Promise<DecryptedCredential | null>;
  credentialNames(): Promise<Set<string>>;
  /** Names served by the sidecar (empty when there is none). */
  localModels(): Promise<LocalModel[]>;
}

const ANTHROPIC_BASE_URL = "https://api.anthropic.com";
const OPENAI_BASE_URL = "https://api.openai.com/v1";

/**
 * Where a provider's own API is for credentials without a baseUrl: the public endpoint, or what the
 * operator says (an egress proxy, a regional endpoint). Such a credential speaks the provider's
 * native API, the Responses API included.
 */
export function providerBaseUrl(config: Config, provider: "anthropic" | "openai"): string {
  return provider === "anthropic"
    ? (config.RELAY_ANTHROPIC_BASE_URL ?? ANTHROPIC_BASE_URL)
    : (config.RELAY_OPENAI_BASE_URL ?? OPENAI_BASE_URL);
}

/** OpenAI's families; everything else unprefixed goes to the cloud map or the fallback. */
const OPENAI_MODEL = /^(gpt-|chatgpt-|o1$|o1-|o3$|o3-|o4$|o4-|text-embedding-|omni-moderation)/;

export function isLocalModel(model: string): boolean {
  return model.startsWith("local:");
}

function fromCredential(config: Config, cred: DecryptedCredential, model: string): Target {
  const wire: Wire = cred.provider === "anthropic" ? "anthropic" : "openai";
  return {
    provider: cred.name,
    wire,
    baseUrl: cred.baseUrl ?? providerBaseUrl(config, wire),
    apiKey: cred.apiKey || null,
    model,
    responsesApi: cred.provider === "openai" && !cred.baseUrl,
  };
}

async function requireCredential(
  ctx: RouteContext,
  name: string,
  model: string,
  family: string,
): Promise<Target> {
  const cred = await ctx.credential(name);
  if (!cred) {
    throw errors.badRequest(
      "credential_missing",
      `Model '${model}' routes to ${family}, but this tenant has no '${name}' credential: ` +
        `PUT /v1/credentials/${name} with {"apiKey": "..."} to add one`,
      "model",
    );
  }
  return fromCredential(ctx.config, cred, model);
}

async function localTarget(ctx: RouteContext, model: string): Promise<Target> {
  return {
    provider: "local",
    wire: "openai",
    baseUrl: sidecarBaseUrl(ctx.config),
    apiKey: await sidecarToken(ctx.config),
    model,
  };
}

/**
 * The routing table of DESIGN.md, first match wins:
 * named credential prefix → `anthropic:` → `openai:` → `local:` → RELAY_CLOUD_MODELS →
 * `claude-*` → OpenAI families → RELAY_CLOUD_FALLBACK_URL → 400 model_not_found.
 */
export async function resolveTarget(requested: string, ctx: RouteContext): Promise<Target> {
  const colon = requested.indexOf(":");
  if (colon > 0) {
    const prefix = requested.slice(0, colon);
    const rest = requested.slice(colon + 1);
    if (!rest)
      throw errors.badRequest(
        "model_not_found",
        `Model '${requested}' names no model after the prefix`,
        "model",
      );
    if (prefix === "local") return localTarget(ctx, rest);
    if (prefix === "anthropic") return requireCredential(ctx, "anthropic", rest, "Anthropic");
    if (prefix === "openai") return requireCredential(ctx, "openai", rest, "OpenAI");
    if ((await ctx.credentialNames()).has(prefix)) {
      const cred = await ctx.credential(prefix);
      if (cred) return fromCredential(ctx.config, cred, rest);
    }
  }

  const local = (await ctx.localModels()).find((m) => m.id === requested);
  if (local) return localTarget(ctx, requested);

  const cloud = ctx.config.RELAY_CLOUD_MODELS?.[requested];
  if (cloud) {
    let apiKey: string | null = null;
    if (cloud.auth_env) {
      apiKey = ctx.env[cloud.auth_env] ?? null;
      if (!apiKey) {
        throw errors.misconfigured(
          `RELAY_CLOUD_MODELS['${requested}'] names auth_env ${cloud.auth_env}, which is not set`,
        );
      }
    }
    return {
      provider: "cloud",
      wire: "openai",
      baseUrl: cloud.base_url.replace(/\/+$/, ""),
      apiKey,
      model: requested,
    };
  }

  if (requested.startsWith("claude-")) return requireCredential(ctx, "anthropic", requested, "Anthropic");
  if (OPENAI_MODEL.test(requested)) return requireCredential(ctx, "openai", requested, "OpenAI");

  if (ctx.config.RELAY_CLOUD_FALLBACK_URL) {
    return {
      provider: "fallback",
      wire: "openai",
      baseUrl: ctx.config.RELAY_CLOUD_FALLBACK_URL.replace(/\/+$/, ""),
      apiKey: ctx.config.RELAY_CLOUD_FALLBACK_API_KEY ?? null,
      model: requested,
    };
  }
  throw errors.badRequest(
    "model_not_found",
    `No route for model '${requested}': use a known family (claude-*, gpt-*, o1/o3/o4…), a prefix such as ` +
      "'anthropic:', 'openai:' or one of your credential names, or a model of RELAY_CLOUD_MODELS",
    "model",
  );
}
