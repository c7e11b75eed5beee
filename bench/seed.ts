import { connectUrl } from "../scripts/lib/database";
import { loadMasterKeys } from "../workers/credentials/crypto";
import { putCredential } from "../workers/db/queries/credentials";
import { createTenant, issueApiKey } from "../workers/db/queries/tenants";
import type { KeyPolicy } from "../workers/limits/policy";

/**
 * The bench tenant in a fresh database: `openai` and `anthropic` credentials that point at the mock
 * upstream, and the API keys the relay targets use, by name (see `RequestContext.apiKeys`):
 * `default` without a policy, and one key per entry of `policies` under that policy.
 */
export async function seedRelay(
  databaseUrl: string,
  masterKey: string,
  mockUrl: string,
  policies: Record<string, KeyPolicy> = {},
): Promise<{ apiKeys: Record<string, string>; keyIds: Record<string, string> }> {
  const seed = await connectUrl(databaseUrl);
  try {
    const audit = { actor: "bench" };
    const tenant = await createTenant(seed.db, audit, "bench");
    if (!tenant) throw new Error("could not create the bench tenant");
    const keys = await loadMasterKeys(masterKey);
    for (const provider of ["openai", "anthropic"] as const) {
      await putCredential(seed.db, audit, tenant.id, keys, {
        name: provider,
        provider,
        apiKey: "sk-bench",
        baseUrl: provider === "openai" ? `${mockUrl}/openai/v1` : `${mockUrl}/anthropic`,
        label: null,
      });
    }
    const apiKeys: Record<string, string> = {};
    const keyIds: Record<string, string> = {};
    for (const [name, policy] of Object.entries({ default: {}, ...policies })) {
      const issued = await issueApiKey(seed.db, audit, tenant.id, name, policy);
      apiKeys[name] = issued.apiKey;
      keyIds[name] = issued.key.id;
    }
    return { apiKeys, keyIds };
  } finally {
    await seed.close();
  }
}
