import { describe, expect, it } from "vitest";
import { requestedGuardrails, resolvePlan } from "../../workers/guardrails/plan";
import type { GuardrailDef, GuardrailPolicy } from "../../workers/guardrails/types";

// The seed's plan rules (Relayna's resolve_guardrail_plan unit cases), as relay implements them.

function def(name: string, over: Partial<GuardrailDef> = {}): GuardrailDef {
  return {
    name,
    description: "",
    kind: "http",
    modes: ["pre_call", "post_call"],
    defaultOn: false,
    failurePolicy: "fail_closed",
    config: { level: 1, mode: "catalog" },
    configSchema: null,
    enabled: true,
    endpointUrl: "https://guard.example.com/check",
    timeoutMs: 1000,
    hasToken: false,
    ...over,
  };
}

const catalog = new Map(
  [
    def("pii-redact", {
      kind: "builtin",
      modes: ["pre_call", "post_call", "during_call"],
      config: { restore_output: true },
    }),
    def("toxicity"),
    def("jailbreak", { modes: ["pre_call"] }),
    def("always", { defaultOn: true }),
    def("off", { enabled: false }),
  ].map((d) => [d.name, d]),
);

const policy = (p: Partial<GuardrailPolicy>): GuardrailPolicy => ({
  mandatory: [],
  optional: [],
  forbidden: [],
  overrides: {},
  ...p,
});
const names = (plan: ReturnType<typeof resolvePlan>) => plan.map((g) => g.def.name);
const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return { status: (err as { status: number }).status, code: (err as { code: string }).code };
  }
  return null;
};

describe("guardrail plan resolution", () => {
  it("applies default-on and mandatory guardrails without a request", () => {
    const plan = resolvePlan(catalog, policy({ mandatory: ["pii-redact"] }), [], false);
    expect(names(plan)).toEqual(["always", "pii-redact"]);
    expect(plan.map((g) => g.source)).toEqual(["default", "mandatory"]);
  });

  it("adds what the client requests when the key allows it, additively and once", () => {
    const p = policy({ mandatory: ["pii-redact"], optional: ["toxicity", "pii-redact"] });
    expect(names(resolvePlan(catalog, p, ["toxicity", "pii-redact", "toxicity"], false))).toEqual([
      "always",
      "pii-redact",
      "toxicity",
    ]);
    // A request never removes anything: an empty request keeps the mandatory ones.
    expect(names(resolvePlan(catalog, p, [], false))).toEqual(["always", "pii-redact"]);
  });

  it("rejects forbidden, unknown and not-optional requests", () => {
    expect(
      code(() =>
        resolvePlan(
          catalog,
          policy({ forbidden: ["toxicity"], optional: ["toxicity"] }),
          ["toxicity"],
          false,
        ),
      ),
    ).toEqual({
      status: 403,
      code: "guardrail_forbidden",
    });
    expect(code(() => resolvePlan(catalog, policy({}), ["nope"], false))).toEqual({
      status: 400,
      code: "invalid_guardrail_request",
    });
    expect(code(() => resolvePlan(catalog, policy({}), ["off"], false))).toEqual({
      status: 400,
      code: "invalid_guardrail_request",
    });
    expect(code(() => resolvePlan(catalog, policy({}), ["toxicity"], false))).toEqual({
      status: 403,
      code: "guardrail_forbidden",
    });
  });

  it("refuses a mandatory guardrail that is forbidden or missing", () => {
    expect(
      code(() =>
        resolvePlan(catalog, policy({ mandatory: ["toxicity"], forbidden: ["toxicity"] }), [], false),
      ),
    ).toEqual({
      status: 403,
      code: "guardrail_forbidden",
    });
    expect(code(() => resolvePlan(catalog, policy({ mandatory: ["gone"] }), [], false))).toEqual({
      status: 502,
      code: "guardrail_unavailable",
    });
  });

  it("keeps a forbidden default-on guardrail away from that key", () => {
    expect(names(resolvePlan(catalog, policy({ forbidden: ["always"] }), [], false))).toEqual([]);
  });

  it("fails a stream closed when a guardrail that checks answers cannot run during the call", () => {
    const withHttp = policy({ mandatory: ["toxicity"] });
    expect(code(() => resolvePlan(catalog, withHttp, [], true))).toEqual({
      status: 502,
      code: "guardrail_unavailable",
    });
    expect(names(resolvePlan(catalog, withHttp, [], false))).toContain("toxicity");
    // pii-redact runs during the call; a pre_call-only http guardrail checks no answer.
    const streamable = policy({ mandatory: ["pii-redact", "jailbreak"], forbidden: ["always"] });
    expect(names(resolvePlan(catalog, streamable, [], true))).toEqual(["pii-redact", "jailbreak"]);
  });

  it("merges a key's overrides shallowly over the catalog's config", () => {
    const p = policy({ mandatory: ["toxicity"], overrides: { toxicity: { level: 3 } } });
    const toxicity = resolvePlan(catalog, p, [], false).find((g) => g.def.name === "toxicity");
    expect(toxicity?.config).toEqual({ level: 3, mode: "catalog" });
  });

  it("accepts only an array of names as the client's opt-in", () => {
    expect(requestedGuardrails(undefined)).toEqual([]);
    expect(requestedGuardrails(["a"])).toEqual(["a"]);
    for (const bad of ["pii-redact", [1], { name: "x" }, [null]]) {
      expect(code(() => requestedGuardrails(bad))).toEqual({
        status: 400,
        code: "invalid_guardrail_request",
      });
    }
  });
});
