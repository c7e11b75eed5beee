import { errors } from "../../common/errors";
import type { Caller } from "../http/types";
import { checkConfig } from "./config";
import { type GuardrailDef, type GuardrailPolicy, NO_GUARDRAIL_POLICY } from "./types";

/** The guardrail part of the caller's key policy (none when the key's policy says nothing of them). */
export function guardrailPolicyOf(caller: Caller): GuardrailPolicy {
  return caller.policy.guardrails ?? NO_GUARDRAIL_POLICY;
}

/**
 * A key policy's guardrail rules, checked when they are written: every name is in the catalog, no
 * guardrail is both required and forbidden, and each override, merged over the catalog's config,
 * is a config that guardrail accepts.
 */
export function checkGuardrailPolicy(
  catalog: ReadonlyMap<string, GuardrailDef>,
  policy: GuardrailPolicy,
): void {
  const param = "policy.guardrails";
  const lists = { mandatory: policy.mandatory, optional: policy.optional, forbidden: policy.forbidden };
  for (const [list, names] of Object.entries(lists)) {
    for (const name of names) {
      if (!catalog.has(name)) {
        throw errors.badRequest(
          "unknown_guardrail",
          `${param}.${list}: no guardrail named '${name}' in the catalog (GET /v1/guardrails lists them)`,
          `${param}.${list}`,
        );
      }
    }
  }
  for (const name of policy.forbidden) {
    if (policy.mandatory.includes(name) || policy.optional.includes(name)) {
      throw errors.badRequest(
        "conflicting_guardrail_policy",
        `${param}: '${name}' is forbidden and also mandatory or optional`,
        param,
      );
    }
  }
  for (const [name, override] of Object.entries(policy.overrides)) {
    const def = catalog.get(name);
    if (!def) {
      throw errors.badRequest(
        "unknown_guardrail",
        `${param}.overrides: no guardrail named '${name}' in the catalog`,
        `${param}.overrides`,
      );
    }
    checkConfig(def, { ...def.config, ...override }, `${param}.overrides.${name}`);
  }
}
