import { describe, expect, it } from "vitest";
import { clientAddress } from "../../workers/auth/failures";
import { goDuration, rateLimitHeaders } from "../../workers/limits/headers";
import { periodsAt } from "../../workers/limits/keys";
import {
  effectiveLimits,
  globs,
  keyPolicyInput,
  mergePolicy,
  refusingList,
  restricts,
} from "../../workers/limits/policy";

describe("key policies", () => {
  it("matches model globs: * any run, ? one character, the rest literal, case ignored", () => {
    const re = globs(["claude-*", "groq:*", "gpt-4o?", "a.b"]);
    for (const m of ["claude-sonnet-4-5", "CLAUDE-x", "groq:llama-3.1-8b", "groq:", "gpt-4ox", "a.b"])
      expect(re.test(m), m).toBe(true);
    for (const m of ["xclaude-1", "groqx:llama", "gpt-4o", "gpt-4o-mini", "aXb", "claude"])
      expect(re.test(m), m).toBe(false);
  });

  it("combines a key's policy with its tenant's ceilings: the lower number, the earlier expiry, both lists", () => {
    expect(effectiveLimits({}, {})).toBeNull();
    const limits = effectiveLimits(
      { rpm: 100, tpm: 5000, allowedModels: ["claude-*", "groq:*"], expiresAt: "2030-01-01T00:00:00Z" },
      { rpm: 60, dailyBudgetUsd: 5, allowedModels: ["claude-*"], expiresAt: "2029-01-01T00:00:00Z" },
    );
    expect(limits).toMatchObject({
      rpm: 60,
      tpm: 5000,
      maxConcurrent: null,
      dailyBudgetUsd: 5,
      monthlyBudgetUsd: null,
      expiresAt: Date.parse("2029-01-01T00:00:00Z"),
      counted: true,
    });
    if (!limits) throw new Error("limits expected");
    expect(refusingList(limits, "claude-3-haiku")).toBeNull();
    expect(refusingList(limits, "groq:llama")).toEqual(["claude-*"]);
    expect(refusingList(limits, "gpt-4o")).toEqual(["claude-*", "groq:*"]);
    // Only an allow-list: checked, but nothing counted (no Redis needed).
    expect(effectiveLimits({ allowedModels: ["x"] }, {})?.counted).toBe(false);
  });

  it("merges a PATCH field by field: null removes, absent keeps", () => {
    const patch = keyPolicyInput.parse({ rpm: null, tpm: 10, allowedModels: ["a*"] });
    expect(mergePolicy({ rpm: 5, maxConcurrent: 2 }, patch)).toEqual({
      maxConcurrent: 2,
      tpm: 10,
      allowedModels: ["a*"],
    });
    expect(keyPolicyInput.safeParse({ rpm: 1, unknown: 1 }).success).toBe(false);
    expect(keyPolicyInput.safeParse({ allowedModels: [] }).success).toBe(false);
    expect(restricts({})).toBe(false);
    expect(restricts({ expiresAt: "2030-01-01T00:00:00Z" })).toBe(true);
  });
});

describe("rate-limit headers", () => {
  it("writes resets the way OpenAI does (Go durations) and Anthropic does (RFC 3339)", () => {
    expect(goDuration(20)).toBe("20ms");
    expect(goDuration(1500)).toBe("1.5s");
    expect(goDuration(60_000)).toBe("1m0s");
    expect(goDuration(6 * 60_000 + 250)).toBe("6m0.25s");
    expect(goDuration(3_600_000 + 61_000)).toBe("1h1m1s");
    expect(goDuration(-5)).toBe("0ms");

    const h = rateLimitHeaders(
      {
        requests: { limit: 60, remaining: 59, resetMs: 1000 },
        tokens: { limit: 1000, remaining: -20, resetMs: 30_000 },
      },
      true,
    );
    expect(h).toMatchObject({
      "x-ratelimit-limit-requests": "60",
      "x-ratelimit-remaining-requests": "59",
      "x-ratelimit-reset-requests": "1s",
      "x-ratelimit-remaining-tokens": "0",
      "anthropic-ratelimit-tokens-limit": "1000",
    });
    expect(Date.parse(h["anthropic-ratelimit-requests-reset"] as string)).toBeGreaterThan(Date.now());
    expect(
      Object.keys(rateLimitHeaders({ requests: { limit: 1, remaining: 0, resetMs: 5 } }, false)),
    ).toEqual(["x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"]);
  });
});

describe("budget periods", () => {
  it("are UTC days and months", () => {
    const p = periodsAt(Date.parse("2026-02-28T23:59:59.999Z"));
    expect(p).toMatchObject({ day: "20260228", month: "202602" });
    expect(new Date(p.dayEnd).toISOString()).toBe("2026-03-01T00:00:00.000Z");
    expect(new Date(p.monthStart).toISOString()).toBe("2026-02-01T00:00:00.000Z");
    expect(new Date(p.monthEnd).toISOString()).toBe("2026-03-01T00:00:00.000Z");
    expect(periodsAt(Date.parse("2026-12-31T12:00:00Z")).month).toBe("202612");
    expect(new Date(periodsAt(Date.parse("2026-12-31T12:00:00Z")).monthEnd).toISOString()).toBe(
      "2027-01-01T00:00:00.000Z",
    );
  });
});

describe("client addresses for the auth limiter", () => {
  it("counts IPv4 as is, IPv6 by its /64, and address-less requests together", () => {
    expect(clientAddress("203.0.113.7")).toBe("203.0.113.7");
    expect(clientAddress("2001:db8:0:1:aaaa::1")).toBe("2001:db8:0:1::/64");
    expect(clientAddress("2001:DB8:0:1:ffff:ffff:ffff:ffff")).toBe("2001:db8:0:1::/64");
    expect(clientAddress("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(clientAddress("::ffff:192.0.2.1")).toBe("192.0.2.1");
    expect(clientAddress(undefined)).toBe("unknown");
    expect(clientAddress("")).toBe("unknown");
  });
});
