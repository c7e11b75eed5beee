import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { DEV_VARS, ROOT, shownPath } from "./env";

/** The local secrets `npm run dev` generates when they are missing or empty. Never overwritten. */
export const GENERATED_SECRETS = ["RELAY_MASTER_KEY", "RELAY_ADMIN_TOKEN", "RELAY_INTERNAL_SECRET"] as const;

const secret = () => randomBytes(32).toString("hex");

/**
 * Makes sure the local settings file exists and holds every generated secret: a new file is the
 * example with fresh secrets; an existing one (say `cp .dev.vars.example .dev.vars`) gets its empty
 * or missing secrets filled, and nothing it sets is touched. Returns a line saying what it did, or
 * null when it did nothing.
 */
export function ensureDevVars(): string | null {
  const name = shownPath(DEV_VARS);
  const created = !existsSync(DEV_VARS);
  let text = created
    ? readFileSync(resolve(ROOT, ".dev.vars.example"), "utf8")
    : readFileSync(DEV_VARS, "utf8");
  const filled: string[] = [];
  for (const key of GENERATED_SECRETS) {
    const line = new RegExp(`^[ \\t]*(?:export[ \\t]+)?${key}[ \\t]*=(.*)$`, "m");
    const match = line.exec(text);
    if (match) {
      // Set (quoted or not): keep it. Empty (`KEY=`, `KEY=""`, `KEY= # comment`): fill it.
      const value = (match[1] as string).replace(/\s+#.*$/, "").trim();
      if (value !== "" && value !== '""' && value !== "''") continue;
      text = text.replace(line, `${key}=${secret()}`);
    } else {
      text += `${text.endsWith("\n") || text === "" ? "" : "\n"}${key}=${secret()}\n`;
    }
    filled.push(key);
  }
  if (filled.length === 0) return null;
  writeFileSync(DEV_VARS, text, { mode: 0o600 });
  return created
    ? `created ${name} with fresh local secrets (git-ignored; keep it: it holds the master key)`
    : `filled the empty ${filled.join(", ")} in ${name} with fresh local secrets`;
}
