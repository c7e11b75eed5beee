import { describe, expect, it } from "vitest";
import { storable } from "../../workers/db/storable";
import { MAX_JSON_DEPTH, modelName, nestsDeeperThan } from "../../workers/http/body";

// The checks the fuzz suite (tests/faults/fuzz.test.ts) made necessary, pinned at their edges.

describe("nestsDeeperThan", () => {
  const nest = (n: number) => `${"[".repeat(n)}${"]".repeat(n)}`;

  it("counts arrays and objects, up to and past the limit", () => {
    expect(nestsDeeperThan(nest(MAX_JSON_DEPTH), MAX_JSON_DEPTH)).toBe(false);
    expect(nestsDeeperThan(nest(MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH)).toBe(true);
    expect(nestsDeeperThan(`${'{"a":'.repeat(70)}1${"}".repeat(70)}`, MAX_JSON_DEPTH)).toBe(true);
    expect(nestsDeeperThan(`[${"[1],".repeat(1000)}[1]]`, MAX_JSON_DEPTH)).toBe(false);
  });

  it("does not count brackets inside strings, escaped quotes included", () => {
    const inString = JSON.stringify({ text: `"${"[".repeat(500)}\\"${"{".repeat(500)}` });
    expect(nestsDeeperThan(inString, MAX_JSON_DEPTH)).toBe(false);
    // An escaped backslash ends just before the closing quote: the nesting after it counts.
    const afterEscapes = `{"a":"\\\\","c":${nest(80)}}`;
    expect(nestsDeeperThan(afterEscapes, MAX_JSON_DEPTH)).toBe(true);
  });
});

describe("modelName", () => {
  it("refuses control characters, which would break the x-relay-model header", () => {
    for (const bad of ["gpt\u0000", "a\r\nx-evil: 1", "tab\there", "\u007f", "\u0085"])
      expect(modelName.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    for (const good of ["groq:llama-3.1-70b", "openrouter/anthropic/claude-3.5", "mock:é"])
      expect(modelName.safeParse(good).success, good).toBe(true);
    expect(modelName.safeParse("m".repeat(257)).success).toBe(false);
  });
});

describe("storable", () => {
  it("replaces NUL in strings and keys, deeply, and leaves the rest as it was", () => {
    const when = new Date(0);
    const value = { a: "x\u0000y", n: 1, d: when, list: [null, "\u0000", { "k\u0000": true }] };
    expect(storable(value)).toEqual({
      a: "x\ufffdy",
      n: 1,
      d: when,
      list: [null, "\ufffd", { "k\ufffd": true }],
    });
    expect(value.a).toBe("x\u0000y");
    const clean = { a: "fine", list: [1, "two"] };
    expect(storable(clean)).toBe(clean);
  });
});
