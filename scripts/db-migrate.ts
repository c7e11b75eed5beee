import { MigrationError, migrateDatabase, openNodeDatabase } from "./lib/database";
import { nodeEnv } from "./lib/env";

// `npm run db:migrate`: applies migrations/ to DATABASE_URL (or the embedded PGlite).
const handle = await openNodeDatabase(nodeEnv());
try {
  await migrateDatabase(handle);
  console.log(`migrations applied to ${handle.where}`);
} catch (err) {
  console.error(err instanceof MigrationError ? err.message : `migration failed: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  await handle.close();
}
