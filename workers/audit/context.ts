import type { Context } from "hono";
import type { AuditContext } from "../db/queries/audit";
import type { AppEnv } from "../http/types";

export function auditContext(c: Context<AppEnv>, actor: string): AuditContext {
  return {
    actor,
    requestId: c.get("requestId"),
    ipAddress: c.req.header("cf-connecting-ip") ?? c.req.header("x-real-ip") ?? null,
    userAgent: c.req.header("user-agent")?.slice(0, 512) ?? null,
  };
}

export function callerActor(c: Context<AppEnv>): string {
  return `api_key:${c.get("caller").keyId}`;
}
