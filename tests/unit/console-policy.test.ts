import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import * as consolePolicy from "../../console/src/lib/policy";
import { draftOf, patchOf, toLocalInput } from "../../console/src/lib/policy";
import * as api from "../../workers/limits/policy";

// The console edits key policies and tenant ceilings through PATCH /v1/keys/:id and
// PATCH /admin/tenants/:id, sending only the fields on its allow-list. That list must be the API's
// fields and the documented ones, no more and no fewer, and what the form sends must be what the
// API takes.

const ROOT = resolve(import.meta.dirname, "../..");

describe("the console's policy fields", () => {
  it("are the API's fields and the ones docs/limits.md documents", () => {
    expect([...consolePolicy.LIMIT_FIELD_NAMES]).toEqual([...api.LIMIT_FIELD_NAMES]);
    expect([...consolePolicy.KEY_POLICY_FIELD_NAMES]).toEqual([...api.KEY_POLICY_FIELD_NAMES]);
    const doc = readFileSync(resolve(ROOT, "docs/limits.md"), "utf8");
    const table = doc.slice(doc.indexOf("| field"), doc.indexOf("\n\n", doc.indexOf("| field")));
    const documented = [...table.matchAll(/^\| `(\w+)`/gm)].map((m) => m[1]);
    expect(documented).toEqual([...api.KEY_POLICY_FIELD_NAMES]);
  });

  it("sends only what changed: a new value, null for a cleared field, nothing for the rest", () => {
    const current = {
      rpm: 60,
      tpm: 1000,
      allowedModels: ["gpt-*"],
      guardrails: { mandatory: ["pii-redact"], optional: [], forbidden: [], overrides: {} },
    };
    const before = draftOf(current);
    expect(patchOf(before, before, consolePolicy.KEY_POLICY_FIELD_NAMES)).toEqual({});
    const patch = patchOf(
      before,
      {
        ...before,
        rpm: "120",
        tpm: "",
        dailyBudgetUsd: "2.5",
        allowedModels: "gpt-4o*\n claude-* ,groq:*\n",
        expiresAt: "2030-06-01T12:30",
        mandatory: "",
        forbidden: "pii-redact",
        overrides: '{"pii-redact": {"categories": ["email"]}}',
      },
      consolePolicy.KEY_POLICY_FIELD_NAMES,
    );
    expect(patch).toEqual({
      rpm: 120,
      tpm: null,
      dailyBudgetUsd: 2.5,
      allowedModels: ["gpt-4o*", "claude-*", "groq:*"],
      expiresAt: new Date("2030-06-01T12:30").toISOString(),
      guardrails: {
        mandatory: [],
        optional: [],
        forbidden: ["pii-redact"],
        overrides: { "pii-redact": { categories: ["email"] } },
      },
    });
    // What the form sends is what the API's own schema takes.
    expect(api.keyPolicyInput.safeParse(patch).success).toBe(true);
    expect(toLocalInput(patch.expiresAt as string)).toBe("2030-06-01T12:30");
    const cleared = patchOf(before, { ...before, mandatory: "" }, consolePolicy.KEY_POLICY_FIELD_NAMES);
    expect(cleared).toEqual({ guardrails: null });
  });

  it("never sends a field off its list, nor a number it cannot read", () => {
    const before = draftOf({});
    const tenant = patchOf(
      before,
      { ...before, monthlyBudgetUsd: "200", mandatory: "pii-redact" },
      consolePolicy.LIMIT_FIELD_NAMES,
    );
    expect(tenant).toEqual({ monthlyBudgetUsd: 200 });
    expect(api.tenantLimitsInput.safeParse(tenant).success).toBe(true);
    // NaN would travel as null and remove the limit instead of refusing the input.
    expect(() => patchOf(before, { ...before, rpm: "sixty" }, consolePolicy.LIMIT_FIELD_NAMES)).toThrow(
      /Requests per minute: "sixty" is not a number/,
    );
    expect(() =>
      patchOf(before, { ...before, overrides: "{nope" }, consolePolicy.KEY_POLICY_FIELD_NAMES),
    ).toThrow(/not JSON/);
    expect(() =>
      patchOf(before, { ...before, overrides: "[1]" }, consolePolicy.KEY_POLICY_FIELD_NAMES),
    ).toThrow(/JSON object/);
  });
});
