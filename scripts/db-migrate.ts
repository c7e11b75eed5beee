import { MigrationError, migrateDatabase, openNodeDatabase } from "./lib/database";
import { nodeEnv } from "./lib/env";

// `npm run db:migrate`: applies migrations/ to the database the other scripts use (the running
// stack's, DATABASE_URL, or the embedded PGlite).
async function main(): Promise<number> {
  const handle = await openNodeDatabase(nodeEnv(), "npm run db:migrate");
  try {
    await migrateDatabase(handle);
    console.log(`migrations applied to ${handle.where}`);
    return 0;
  } catch (err) {
    console.error(
      err instanceof MigrationError ? err.message : `migration failed: ${(err as Error).message}`,
    );
    return 1;
  } finally {
    await handle.close();
  }
}

process.exitCode = await main().catch((err) => {
  console.error(`npm run db:migrate: ${err instanceof Error ? err.message : String(err)}`);
  return 2;
});
