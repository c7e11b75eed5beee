import type { Config, Env } from "../config/env";
import type { RequestDb } from "../db/client";
import type { SessionKind } from "../db/queries/sessions";
import type { KeyPolicy, Limits } from "../limits/policy";

export interface Caller {
  keyId: string;
  tenantId: string;
  /** The key's own policy, as stored. */
  policy: KeyPolicy;
  /** The key's policy and its tenant's ceilings together; null when neither limits anything. */
  limits: Limits | null;
}

/** A signed-in web console user (workers/console). */
export interface ConsoleSession {
  id: string;
  kind: SessionKind;
  tenant: { id: string; name: string } | null;
  key: { id: string; prefix: string } | null;
  /** The absolute end of the session, however active it is. */
  expiresAt: Date;
}

export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
    config: Config;
    db: RequestDb;
    caller: Caller;
    session: ConsoleSession;
  };
}
