import { type Schema, Validator } from "@cfworker/json-schema";
import type { z } from "zod";
import { errors } from "../../common/errors";
import { piiConfigSchema } from "./pii";
import type { GuardrailDef } from "./types";

// What a guardrail's config may hold: a builtin's own schema, or an http guardrail's configSchema.
// Checked where a config is written (the catalog) and where a key's policy overrides it.

export const BUILTINS: Record<string, { modes: GuardrailDef["modes"]; config: z.ZodType }> = {
  "pii-redact": { modes: ["pre_call", "post_call", "during_call"], config: piiConfigSchema },
};

/** Checks a config against the guardrail's own rules: a builtin's, or its config schema. */
export function checkConfig(
  def: Pick<GuardrailDef, "name" | "kind" | "configSchema">,
  config: unknown,
  param: string,
): void {
  const builtin = def.kind === "builtin" ? BUILTINS[def.name] : undefined;
  if (builtin) {
    const parsed = builtin.config.safeParse(config);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw errors.badRequest(
        "invalid_guardrail_config",
        `${param}: ${issue?.path.join(".") || "config"} ${issue?.message}`,
        param,
      );
    }
    return;
  }
  if (!def.configSchema) return;
  const result = new Validator(def.configSchema as Schema, "2020-12", false).validate(config);
  if (!result.valid) {
    const first = result.errors.at(-1);
    throw errors.badRequest(
      "invalid_guardrail_config",
      `${param}: ${first?.error ?? "does not match configSchema"}`,
      param,
    );
  }
}
