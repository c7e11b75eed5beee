import { Hono } from "hono";
import { z } from "zod";
import { errors } from "../../common/errors";
import { auditContext, callerActor } from "../audit/context";
import {
  type CredentialInput,
  deleteCredential,
  listCredentials,
  putCredential,
} from "../db/queries/credentials";
import { readJson } from "../http/body";
import type { AppEnv } from "../http/types";
import { credentialCache } from "./cache";
import { masterKeys } from "./master-keys";
import { checkUpstreamUrl } from "./ssrf";

// A credential's name is also its routing prefix (`groq:llama-3.1-8b`), so it must be short and
// plain. `local` is the sidecar's prefix and cannot be taken.
const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const RESERVED = new Set(["local"]);
const BUILT_IN = new Map<string, "anthropic" | "openai">([
  ["anthropic", "anthropic"],
  ["openai", "openai"],
]);

const putBody = z
  .object({
    // Keyless local servers (Ollama, llama.cpp) need none; hosted APIs do (checked below).
    apiKey: z.string().min(1).max(8192).optional(),
    baseUrl: z.string().max(2048).optional(),
    label: z.string().trim().max(120).optional(),
    provider: z.enum(["anthropic", "openai", "openai_compatible"]).optional(),
  })
  .strict();

function validName(name: string): string {
  if (!NAME.test(name)) {
    throw errors.badRequest(
      "invalid_credential_name",
      "Credential names are 1-63 characters of a-z, 0-9, '-' and '_', starting with a letter or digit",
      "name",
    );
  }
  if (RESERVED.has(name)) {
    throw errors.badRequest("reserved_credential_name", `'${name}' is reserved for local models`, "name");
  }
  return name;
}

export const credentialRoutes = new Hono<AppEnv>()
  .put("/:name", async (c) => {
    const name = validName(c.req.param("name"));
    const body = await readJson(c, putBody);
    const config = c.get("config");

    const builtIn = BUILT_IN.get(name);
    if (builtIn && body.provider && body.provider !== builtIn) {
      throw errors.badRequest(
        "invalid_provider",
        `The '${name}' credential is always provider '${builtIn}'`,
        "provider",
      );
    }
    const provider: CredentialInput["provider"] = builtIn ?? body.provider ?? "openai_compatible";
    if (provider === "openai_compatible" && !body.baseUrl) {
      throw errors.badRequest(
        "base_url_required",
        `'${name}' is an OpenAI-compatible endpoint: baseUrl is required (e.g. https://api.groq.com/openai/v1)`,
        "baseUrl",
      );
    }
    if (!body.apiKey && !body.baseUrl) {
      throw errors.badRequest(
        "api_key_required",
        `'${name}' goes to ${provider === "anthropic" ? "Anthropic" : "OpenAI"}'s own API, which needs apiKey; ` +
          "only a credential with a baseUrl (a keyless local server) may leave it out",
        "apiKey",
      );
    }
    let baseUrl: string | null = null;
    if (body.baseUrl) {
      const check = checkUpstreamUrl(body.baseUrl, config.RELAY_ALLOW_PRIVATE_UPSTREAMS);
      if (!check.ok) throw errors.badRequest("invalid_base_url", `baseUrl ${check.reason}`, "baseUrl");
      baseUrl = check.url.href.replace(/\/+$/, "");
    }

    const input: CredentialInput = {
      name,
      provider,
      apiKey: body.apiKey ?? "",
      baseUrl,
      label: body.label || null,
    };
    const { tenantId } = c.get("caller");
    const result = await putCredential(
      c.get("db").db,
      auditContext(c, callerActor(c)),
      tenantId,
      await masterKeys(config),
      input,
    );
    credentialCache.forget(tenantId);
    return c.json({ credential: result.credential }, result.created ? 201 : 200);
  })
  .get("/", async (c) =>
    c.json({ credentials: await listCredentials(c.get("db").db, c.get("caller").tenantId) }),
  )
  .delete("/:name", async (c) => {
    const name = c.req.param("name");
    const deleted = NAME.test(name)
      ? await deleteCredential(
          c.get("db").db,
          auditContext(c, callerActor(c)),
          c.get("caller").tenantId,
          name,
        )
      : false;
    if (!deleted)
      throw errors.notFound("credential_not_found", `No credential named '${name}' in this tenant`);
    return c.json({ deleted: true, name });
  });
