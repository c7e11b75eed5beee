import type { Context } from "hono";
import type { Config, Env } from "../config/env";
import { credentialCache } from "../credentials/cache";
import type { RequestDb } from "../db/client";
import type { AppEnv, Caller } from "../http/types";
import { localModels } from "../local/sidecar";
import type { RouteContext } from "../routing/resolve";

/**
 * Everything one call through the gateway needs from its surroundings. An HTTP request builds it
 * from its hono context; an agent run builds one per model call, so that runs go through the very
 * same path (routing, credentials, retries, fallbacks, translation, usage).
 */
export interface GatewayContext {
  config: Config;
  env: Env;
  caller: Caller;
  db: RequestDb;
  /** The id usage is recorded under. */
  requestId: string;
  /** Aborted when whoever waits for the answer goes away; the upstream request is aborted with it. */
  signal: AbortSignal | undefined;
  /** Keeps background work (usage, cache refreshes) alive after the response. */
  waitUntil(task: Promise<unknown>): void;
  /** Set for the model calls of an agent run: usage is attributed to it. */
  runId?: string;
}

export function gatewayContext(c: Context<AppEnv>): GatewayContext {
  return {
    config: c.get("config"),
    env: c.env,
    caller: c.get("caller"),
    db: c.get("db"),
    requestId: c.get("requestId"),
    signal: c.req.raw.signal,
    waitUntil: (task) => c.executionCtx.waitUntil(task),
  };
}

/** What routing a model name needs, served from the isolate's caches. */
export function routeContext(ctx: GatewayContext): RouteContext {
  const { config, caller, db } = ctx;
  return {
    config,
    env: ctx.env,
    credential: (name) => credentialCache.get(db, config, caller.tenantId, name),
    credentialNames: () => credentialCache.names(db, config, caller.tenantId),
    localModels: () => localModels(config, ctx.waitUntil),
  };
}
