import { RelayError } from "../../common/errors";
import type { AppliedGuardrail, GuardrailDef, GuardrailPolicy } from "./types";

// Which guardrails run for one request, by the seed's rules (Relayna's resolve_guardrail_plan):
// the catalog's default-on guardrails, then the key's mandatory ones, then what the client asked for
// (`"guardrails": [...]` in the body), which must be optional for the key. Additive only, no
// duplicates. A key's forbidden list hides a guardrail from it, default-on ones included.

export const guardrailErrors = {
  invalid: (message: string) =>
    new RelayError({
      status: 400,
      type: "invalid_request_error",
      code: "invalid_guardrail_request",
      message,
      param: "guardrails",
    }),
  forbidden: (message: string) =>
    new RelayError({
      status: 403,
      type: "permission_error",
      code: "guardrail_forbidden",
      message,
      param: "guardrails",
    }),
  unavailable: (message: string) =>
    new RelayError({ status: 502, type: "api_error", code: "guardrail_unavailable", message }),
  blocked: (name: string, reason: string | null) =>
    new RelayError({
      status: 403,
      type: "permission_error",
      code: "guardrail_blocked",
      message: `The guardrail '${name}' blocked this request${reason ? `: ${reason}` : ""}`,
    }),
};

/** The client's opt-in, as it came in the body: an array of names, or nothing. */
export function requestedGuardrails(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
    throw guardrailErrors.invalid("guardrails must be an array of guardrail names");
  }
  if (value.length > 64) throw guardrailErrors.invalid("at most 64 guardrails may be requested");
  return value;
}

export function resolvePlan(
  catalog: ReadonlyMap<string, GuardrailDef>,
  policy: GuardrailPolicy,
  requested: string[],
  stream: boolean,
): AppliedGuardrail[] {
  const forbidden = new Set(policy.forbidden);
  const plan = new Map<string, AppliedGuardrail>();
  const add = (def: GuardrailDef, source: AppliedGuardrail["source"]) => {
    if (plan.has(def.name)) return;
    const overrides = policy.overrides[def.name] ?? {};
    // Overrides are shallow-merged over the catalog's config.
    plan.set(def.name, { def, config: { ...def.config, ...overrides }, source });
  };

  for (const def of catalog.values()) {
    if (def.enabled && def.defaultOn && !forbidden.has(def.name)) add(def, "default");
  }
  for (const name of policy.mandatory) {
    if (forbidden.has(name)) {
      throw guardrailErrors.forbidden(`The guardrail '${name}' is both mandatory and forbidden for this key`);
    }
    const def = catalog.get(name);
    if (!def?.enabled) {
      throw guardrailErrors.unavailable(
        `The guardrail '${name}', mandatory for this key, is not in the catalog`,
      );
    }
    add(def, "mandatory");
  }
  for (const name of requested) {
    const def = catalog.get(name);
    if (!def?.enabled) throw guardrailErrors.invalid(`There is no guardrail named '${name}'`);
    if (forbidden.has(name))
      throw guardrailErrors.forbidden(`The guardrail '${name}' is forbidden for this key`);
    if (plan.has(name)) continue;
    if (!policy.optional.includes(name)) {
      throw guardrailErrors.forbidden(`This key may not request the guardrail '${name}'`);
    }
    add(def, "requested");
  }

  // A streamed answer is only ever checked during the call: every guardrail that checks answers
  // must be able to, or the request fails closed rather than buffering the stream.
  if (stream) {
    for (const g of plan.values()) {
      if (g.def.modes.includes("post_call") && !g.def.modes.includes("during_call")) {
        throw guardrailErrors.unavailable(
          `The guardrail '${g.def.name}' checks answers but cannot check a stream as it flows; send the request without stream`,
        );
      }
    }
  }
  return [...plan.values()];
}

/** What a key may ask for: default-on, mandatory and optional guardrails, minus forbidden ones. */
export function discoverable(
  catalog: ReadonlyMap<string, GuardrailDef>,
  policy: GuardrailPolicy,
): GuardrailDef[] {
  const forbidden = new Set(policy.forbidden);
  const names = new Set([...policy.mandatory, ...policy.optional]);
  return [...catalog.values()].filter(
    (d) => d.enabled && !forbidden.has(d.name) && (d.defaultOn || names.has(d.name)),
  );
}
