import { parseArgs } from "node:util";
import { loadMasterKeys } from "../workers/credentials/crypto";
import { checkUpstreamUrl } from "../workers/credentials/ssrf";
import type { AuditContext } from "../workers/db/queries/audit";
import { type CredentialInput, putCredential } from "../workers/db/queries/credentials";
import { createTenant, findTenantByName, issueApiKey } from "../workers/db/queries/tenants";
import { migrateDatabase, openNodeDatabase } from "./lib/database";
import { nodeEnv, readDevState } from "./lib/env";

// `npm run bootstrap -- [--tenant NAME] [--key-name NAME] [--json]`: a tenant and its first key.
// With --json, stdout carries exactly one JSON object and every message goes to stderr.

const USAGE = "usage: npm run bootstrap -- [--tenant NAME] [--key-name NAME] [--json]";

async function main(): Promise<number> {
  let values: { tenant?: string; "key-name"?: string; json?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        tenant: { type: "string" },
        "key-name": { type: "string" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const env = nodeEnv();
  const say = (msg: string) => (values.json ? console.error(msg) : console.log(msg));
  const tenantName = (values.tenant || env.RELAY_TENANT_NAME || "default").trim();
  if (!tenantName || tenantName.length > 200) {
    console.error("--tenant must be 1-200 characters");
    return 2;
  }

  // Credentials from the environment are validated before anything is written.
  const credentials: CredentialInput[] = [];
  if (env.ANTHROPIC_API_KEY) {
    credentials.push({
      name: "anthropic",
      provider: "anthropic",
      apiKey: env.ANTHROPIC_API_KEY,
      baseUrl: null,
      label: "bootstrap",
    });
  }
  if (env.OPENAI_API_KEY) {
    let baseUrl: string | null = null;
    if (env.OPENAI_BASE_URL) {
      const check = checkUpstreamUrl(env.OPENAI_BASE_URL, env.RELAY_ALLOW_PRIVATE_UPSTREAMS === "true");
      if (!check.ok) {
        console.error(
          `OPENAI_BASE_URL ${check.reason} (set RELAY_ALLOW_PRIVATE_UPSTREAMS=true for local endpoints)`,
        );
        return 2;
      }
      baseUrl = check.url.href.replace(/\/+$/, "");
    }
    credentials.push({
      name: "openai",
      provider: "openai",
      apiKey: env.OPENAI_API_KEY,
      baseUrl,
      label: "bootstrap",
    });
  }
  if (credentials.length > 0 && !env.RELAY_MASTER_KEY) {
    console.error(
      "RELAY_MASTER_KEY is not set: it is needed to encrypt the provider credentials (see .dev.vars)",
    );
    return 2;
  }
  const keys = credentials.length > 0 ? await loadMasterKeys(env.RELAY_MASTER_KEY as string) : null;

  const handle = await openNodeDatabase(env, "npm run bootstrap");
  try {
    await migrateDatabase(handle);
    const audit: AuditContext = { actor: "bootstrap" };
    let tenant = await createTenant(handle.db, audit, tenantName);
    if (tenant) {
      say(`created tenant '${tenant.name}' (${tenant.id}) in ${handle.where}`);
    } else {
      tenant = await findTenantByName(handle.db, tenantName);
      if (!tenant) throw new Error(`tenant '${tenantName}' vanished while bootstrapping`);
      say(`tenant '${tenant.name}' (${tenant.id}) already exists in ${handle.where}; issuing a new key`);
    }
    const issued = await issueApiKey(handle.db, audit, tenant.id, values["key-name"] ?? "bootstrap");
    for (const input of credentials) {
      await putCredential(handle.db, audit, tenant.id, keys as NonNullable<typeof keys>, input);
      say(`stored the '${input.name}' credential (encrypted)`);
    }
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ tenantId: tenant.id, apiKey: issued.apiKey })}\n`);
    } else {
      console.log(`\nAPI key (shown once, store it now):\n  ${issued.apiKey}\n`);
      const base = readDevState()?.workerUrl ?? "http://127.0.0.1:8787";
      console.log(`try: curl -H "authorization: Bearer ${issued.apiKey}" ${base}/v1/keys`);
    }
    return 0;
  } finally {
    await handle.close();
  }
}

process.exitCode = await main().catch((err) => {
  console.error(`bootstrap failed: ${err instanceof Error ? err.message : String(err)}`);
  return 1;
});
