import type { Config, Env } from "../config/env";
import type { RequestDb } from "../db/client";

export interface Caller {
  keyId: string;
  tenantId: string;
}

export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
    config: Config;
    db: RequestDb;
    caller: Caller;
  };
}
