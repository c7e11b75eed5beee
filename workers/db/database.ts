import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import type * as schema from "./schema";

/**
 * Every driver relay uses (Neon serverless in the Worker, node-postgres and PGlite in the Node
 * scripts) yields this type, so one set of queries serves them all.
 */
export type Database = PgDatabase<PgQueryResultHKT, typeof schema>;
