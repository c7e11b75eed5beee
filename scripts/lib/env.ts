import { existsSync, readFileSync } from "node:fs";
import { relative, resolve } from "node:path";
import { parseEnv } from "node:util";

export const ROOT = resolve(import.meta.dirname, "../..");
/** Local state (embedded database, dev session info): `.relay/` unless RELAY_STATE_DIR says otherwise. */
export const STATE_DIR = resolve(ROOT, process.env.RELAY_STATE_DIR || ".relay");
/** The local settings file `wrangler dev` users know; RELAY_DEV_VARS points elsewhere (tests do). */
export const DEV_VARS = resolve(ROOT, process.env.RELAY_DEV_VARS || ".dev.vars");
export const DEV_STATE = resolve(STATE_DIR, "dev.json");
export const STATE_LOCK = resolve(STATE_DIR, "lock.json");
export const PGLITE_DIR = resolve(STATE_DIR, "pgdata");
export const MIGRATIONS_DIR = resolve(ROOT, "migrations");

/** A path as a message shows it: relative inside the repository, absolute outside. */
export function shownPath(path: string): string {
  const rel = relative(ROOT, path);
  return rel && !rel.startsWith("..") ? rel : path;
}

/** The entries of the local settings file alone (empty when there is none). */
export function devVarsFile(): Record<string, string> {
  return existsSync(DEV_VARS) ? (parseEnv(readFileSync(DEV_VARS, "utf8")) as Record<string, string>) : {};
}

/**
 * The one configuration loader of the Node tools: the process environment wins, then `.dev.vars`
 * (the file `npm run dev` gives the Worker), so the scripts and the local Worker share one master key.
 */
export function nodeEnv(): Record<string, string | undefined> {
  return { ...devVarsFile(), ...process.env };
}

/** What a running `npm run dev` tells the other scripts (written to .relay/dev.json, mode 0600). */
export interface DevState {
  pid: number;
  workerUrl: string;
  sidecarUrl: string;
  /** The database the stack serves: DATABASE_URL, or the URL of its embedded PGlite's socket. */
  databaseUrl: string;
  /** Where that is, for messages (never a password). */
  databaseLabel: string;
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, it is just not ours to signal.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The running dev stack of this state folder, or null when there is none (or it died). */
export function readDevState(): DevState | null {
  if (!existsSync(DEV_STATE)) return null;
  try {
    const state = JSON.parse(readFileSync(DEV_STATE, "utf8")) as DevState;
    return typeof state.databaseUrl === "string" && processAlive(state.pid) ? state : null;
  } catch {
    return null;
  }
}
