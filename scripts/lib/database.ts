import { drizzle as drizzlePg } from "drizzle-orm/node-postgres";
import { migrate as migratePg } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";
import type { Database } from "../../workers/db/database";
import * as schema from "../../workers/db/schema";
import { type DevState, MIGRATIONS_DIR, PGLITE_DIR, readDevState } from "./env";
import { type LocalPostgres, startLocalPostgres } from "./local-postgres";
import { lockStateDir } from "./state-lock";

export interface NodeDatabase {
  db: Database;
  /** Where the data lives, for messages: never includes a password. */
  where: string;
  close(): Promise<void>;
}

export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || 5432}${u.pathname}`;
  } catch {
    return "(unparseable DATABASE_URL)";
  }
}

export async function connectUrl(url: string): Promise<NodeDatabase> {
  const pool = new pg.Pool({ connectionString: url, max: 2, connectionTimeoutMillis: 10_000 });
  pool.on("error", () => {});
  return {
    db: drizzlePg(pool, { schema }) as unknown as Database,
    where: describeUrl(url),
    close: () => pool.end(),
  };
}

/** A script would write somewhere other than the running stack's database: it refuses, saying both. */
export class DatabaseMismatch extends Error {
  constructor(running: DevState, given: string) {
    super(
      `npm run dev (pid ${running.pid}, ${running.workerUrl}) serves ${running.databaseLabel}, but DATABASE_URL ` +
        `points at ${describeUrl(given)}. To use the running stack, leave DATABASE_URL out of this command ` +
        "(and of .dev.vars); to use the other database, stop npm run dev first.",
    );
    this.name = "DatabaseMismatch";
  }
}

/**
 * The database a Node tool should use — the one the running stack uses, so that a key bootstrap
 * mints is one the Worker accepts:
 * 1. a running `npm run dev` of this state folder: its database (its embedded PGlite through its
 *    socket, since PGlite allows one owner; or its DATABASE_URL). A DATABASE_URL that names another
 *    database is refused with a message that says which is which;
 * 2. else DATABASE_URL;
 * 3. else the embedded PGlite folder, opened here, under the state folder's lock.
 */
export async function openNodeDatabase(
  env: Record<string, string | undefined>,
  purpose = "a relay script",
): Promise<NodeDatabase> {
  const running = readDevState();
  if (running) {
    if (env.DATABASE_URL && describeUrl(env.DATABASE_URL) !== describeUrl(running.databaseUrl)) {
      throw new DatabaseMismatch(running, env.DATABASE_URL);
    }
    const handle = await connectUrl(running.databaseUrl);
    return { ...handle, where: `${running.databaseLabel}, via the running npm run dev` };
  }
  if (env.DATABASE_URL) return connectUrl(env.DATABASE_URL);
  const lock = lockStateDir(purpose);
  try {
    const local: LocalPostgres = await startLocalPostgres(PGLITE_DIR);
    const handle = await connectUrl(local.url);
    return {
      ...handle,
      where: `embedded PGlite (${PGLITE_DIR})`,
      async close() {
        await handle.close();
        await local.close();
        lock.release();
      },
    };
  } catch (err) {
    lock.release();
    throw err;
  }
}

/** Applies pending migrations. Throws with the failing statement and the database's error. */
export async function migrateDatabase(handle: NodeDatabase): Promise<void> {
  try {
    await migratePg(handle.db as unknown as Parameters<typeof migratePg>[0], {
      migrationsFolder: MIGRATIONS_DIR,
    });
  } catch (err) {
    throw new MigrationError(err);
  }
}

export class MigrationError extends Error {
  constructor(cause: unknown) {
    const e = cause as { query?: string; cause?: { message?: string; detail?: string; position?: string } };
    const dbError = e.cause?.message ?? (cause instanceof Error ? cause.message : String(cause));
    const parts = [`migration failed: ${dbError}`];
    if (e.cause?.detail) parts.push(`detail: ${e.cause.detail}`);
    if (e.query) parts.push(`statement:\n${e.query.trim()}`);
    super(parts.join("\n"));
    this.name = "MigrationError";
  }
}
