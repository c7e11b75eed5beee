import { drizzle as drizzlePg } from "drizzle-orm/node-postgres";
import { migrate as migratePg } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";
import type { Database } from "../../workers/db/database";
import * as schema from "../../workers/db/schema";
import { MIGRATIONS_DIR, PGLITE_DIR, readDevState } from "./env";
import { type LocalPostgres, startLocalPostgres } from "./local-postgres";

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

/**
 * The database a Node tool should use: DATABASE_URL when set; else the embedded PGlite of a
 * running `npm run dev` (reached through its socket, since PGlite allows one owner); else that
 * PGlite opened here directly.
 */
export async function openNodeDatabase(env: Record<string, string | undefined>): Promise<NodeDatabase> {
  if (env.DATABASE_URL) return connectUrl(env.DATABASE_URL);
  const dev = readDevState();
  if (dev?.localDatabaseUrl) {
    const handle = await connectUrl(dev.localDatabaseUrl);
    return { ...handle, where: `embedded PGlite (${PGLITE_DIR}) via npm run dev` };
  }
  const local: LocalPostgres = await startLocalPostgres(PGLITE_DIR);
  const handle = await connectUrl(local.url);
  return {
    ...handle,
    where: `embedded PGlite (${PGLITE_DIR})`,
    async close() {
      await handle.close();
      await local.close();
    },
  };
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
