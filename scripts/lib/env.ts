import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseEnv } from "node:util";

export const ROOT = resolve(import.meta.dirname, "../..");
/** Local state (embedded database, dev session info): `.relay/` unless RELAY_STATE_DIR says otherwise. */
export const STATE_DIR = resolve(ROOT, process.env.RELAY_STATE_DIR || ".relay");
export const DEV_VARS = resolve(ROOT, ".dev.vars");
export const DEV_STATE = resolve(STATE_DIR, "dev.json");
export const PGLITE_DIR = resolve(STATE_DIR, "pgdata");
export const MIGRATIONS_DIR = resolve(ROOT, "migrations");

/**
 * The one configuration loader of the Node tools: the process environment wins, then `.dev.vars`
 * (the same file `wrangler dev` reads), so the scripts and the local Worker share one master key.
 */
export function nodeEnv(): Record<string, string | undefined> {
  const file = existsSync(DEV_VARS) ? parseEnv(readFileSync(DEV_VARS, "utf8")) : {};
  return { ...file, ...process.env };
}

export interface DevState {
  pid: number;
  workerUrl: string;
  sidecarUrl: string;
  /** Set when `npm run dev` serves the embedded PGlite; scripts then reach it through this URL. */
  localDatabaseUrl?: string;
}

export function readDevState(): DevState | null {
  if (!existsSync(DEV_STATE)) return null;
  try {
    const state = JSON.parse(readFileSync(DEV_STATE, "utf8")) as DevState;
    process.kill(state.pid, 0); // throws when that dev session is gone
    return state;
  } catch {
    return null;
  }
}
