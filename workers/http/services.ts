import type { MiddlewareHandler } from "hono";
import { loadConfig } from "../config/env";
import { RequestDb } from "../db/client";
import type { AppEnv } from "./types";

/** Config and a lazily opened database handle for every authenticated surface. */
export const services: MiddlewareHandler<AppEnv> = async (c, next) => {
  const config = loadConfig(c.env);
  c.set("config", config);
  const handle = new RequestDb(config);
  c.set("db", handle);
  try {
    await next();
  } finally {
    if (handle.used) c.executionCtx.waitUntil(handle.close());
  }
};
