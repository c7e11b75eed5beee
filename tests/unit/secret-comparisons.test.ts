import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { secretsEqual } from "../../common/bytes";

// Every secret a caller presents is compared in constant time (common/bytes.ts `secretsEqual`, or a
// signature check by WebCrypto/jose), never with `===`, whose early exit tells an attacker how many
// leading characters were right. This scan reads the source of every service for equality operators
// with a secret-looking operand; a new `token === expected` fails it.

const ROOT = resolve(import.meta.dirname, "../..");
const SOURCES = ["workers", "sidecar/src", "common", "console/src", "sdk/src"];
const SECRETISH = /(token|secret|password|passwd|api_?key|signature|csrf|hmac|bearer|credential)/i;
const COMPARISON = /([\w$.?[\]"'()-]+)\s*(===|!==|==|!=)\s*([\w$.?[\]"'`()-]+)/g;
/** A comparison with a literal or a shape (a length, a type) reveals nothing about a secret. */
const LITERAL = /^(null|undefined|true|false|-?\d+(\.\d+)?|"[^"]*"|'[^']*'|`[^`]*`)$/;
const SHAPE = /\.(length|type|kind|status|name|size|until|expiresAt)$/;

/**
 * Comparisons that look like one but compare no presented secret, each with its reason.
 */
const ALLOWED: Record<string, string> = {
  // The sidecar token cache checks that RELAY_INTERNAL_SECRET (the Worker's own setting) is the one
  // it minted with: both sides are configuration, no caller input.
  "workers/local/sidecar.ts: if (token && token.secret === secret && token.until > now) return token.value;":
    "config against config",
};

function plainSecretComparisons(file: string, text: string): string[] {
  const found: string[] = [];
  text.split("\n").forEach((line) => {
    for (const m of line.matchAll(COMPARISON)) {
      const sides = [m[1] as string, m[3] as string].map((s) => s.replace(/^[(!]+|\)+$/g, ""));
      if (!sides.some((s) => SECRETISH.test(s))) continue;
      if (sides.some((s) => LITERAL.test(s) || SHAPE.test(s))) continue;
      const where = `${file}: ${line.trim()}`;
      if (!ALLOWED[where]) found.push(where);
    }
  });
  return found;
}

function* sourceFiles(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (name !== "node_modules" && name !== "dist") yield* sourceFiles(path);
    } else if (/\.tsx?$/.test(name)) yield path;
  }
}

describe("constant-time comparison of secrets", () => {
  it("finds a plain comparison of a presented secret (the scan can fail)", () => {
    const bad = [
      "if (given === config.RELAY_ADMIN_TOKEN) return next();",
      "if (c.req.header('x-csrf-token') !== expectedCsrf) throw forbidden();",
      "const ok = apiKey == stored;",
    ];
    for (const line of bad) expect(plainSecretComparisons("x.ts", line), line).toHaveLength(1);
    expect(plainSecretComparisons("x.ts", "if (token === undefined) return;")).toEqual([]);
    expect(plainSecretComparisons("x.ts", 'if (typeof body.apiKey !== "string") throw e;')).toEqual([]);
  });

  it("no service compares a secret with ===", () => {
    const found: string[] = [];
    for (const dir of SOURCES) {
      for (const file of sourceFiles(resolve(ROOT, dir))) {
        const rel = file.slice(ROOT.length + 1);
        found.push(...plainSecretComparisons(rel, readFileSync(file, "utf8")));
      }
    }
    expect(found).toEqual([]);
  });

  it("every check of a presented token goes through secretsEqual", () => {
    for (const file of [
      "workers/admin/auth.ts", // RELAY_ADMIN_TOKEN
      "workers/console/session-routes.ts", // the admin token at console sign-in
      "workers/console/auth.ts", // CSRF token, operator session tag
      "sidecar/src/app.ts", // RELAY_OPERATOR_TOKEN
      "sidecar/src/redis-rest/app.ts", // the Redis REST token
    ]) {
      expect(readFileSync(resolve(ROOT, file), "utf8"), file).toMatch(/await secretsEqual\(/);
    }
  });

  it("secretsEqual is right for equal, different, prefix and empty secrets", async () => {
    expect(await secretsEqual("s3cret-token", "s3cret-token")).toBe(true);
    expect(await secretsEqual("s3cret-token", "s3cret-tokeN")).toBe(false);
    expect(await secretsEqual("s3cret", "s3cret-token")).toBe(false);
    expect(await secretsEqual("", "s3cret-token")).toBe(false);
    expect(await secretsEqual("é", "e\u0301")).toBe(false);
  });
});
