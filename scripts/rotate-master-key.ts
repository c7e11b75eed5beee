import { loadMasterKeys } from "../workers/credentials/crypto";
import { recordAudit } from "../workers/db/queries/audit";
import { resealAllCredentials } from "../workers/db/queries/credentials";
import { openNodeDatabase } from "./lib/database";
import { nodeEnv } from "./lib/env";

// `npm run rotate-master-key`: re-encrypts every credential under RELAY_MASTER_KEY. During a
// rotation set the new key as RELAY_MASTER_KEY and the old one as RELAY_MASTER_KEY_PREVIOUS
// (on the Worker too, which reads both meanwhile); run this; then drop PREVIOUS.

async function main(): Promise<number> {
  const env = nodeEnv();
  if (!env.RELAY_MASTER_KEY) {
    console.error("RELAY_MASTER_KEY is not set");
    return 2;
  }
  const keys = await loadMasterKeys(env.RELAY_MASTER_KEY, env.RELAY_MASTER_KEY_PREVIOUS || undefined);
  const handle = await openNodeDatabase(env, "npm run rotate-master-key");
  try {
    const result = await resealAllCredentials(handle.db, keys);
    for (const tenantId of result.tenants) {
      await recordAudit(
        handle.db,
        { actor: "system" },
        {
          tenantId,
          action: "master_key.rotated",
          targetType: "tenant",
          targetId: tenantId,
        },
      );
    }
    console.log(
      `re-encrypted ${result.resealed} credential(s) in ${handle.where} under the current master key`,
    );
    if (result.failed.length > 0) {
      console.error(
        `${result.failed.length} credential(s) open under neither RELAY_MASTER_KEY nor RELAY_MASTER_KEY_PREVIOUS and were left as they are:`,
      );
      for (const f of result.failed) console.error(`  tenant ${f.tenantId}, credential '${f.name}'`);
      return 1;
    }
    return 0;
  } finally {
    await handle.close();
  }
}

process.exitCode = await main().catch((err) => {
  console.error(`rotation failed: ${err instanceof Error ? err.message : String(err)}`);
  return 1;
});
