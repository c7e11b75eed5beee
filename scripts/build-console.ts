import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";

// Runs on Node's own TypeScript support (no tsx, no imports of other scripts): npm runs it before
// every `npm run dev`, where each second of start-up counts.
const ROOT = resolve(import.meta.dirname, "..");

// Builds the web console (console/, a Vite app) into dist/site, the directory wrangler.toml's
// [assets] serves. npm runs it after `npm install` (prepare) and before dev, test, deploy and bench,
// so nobody has to remember it; when nothing it depends on changed it does nothing. A new build is
// written beside the old one and swapped in, so a running `npm run dev` never sees half a build.

const SOURCE = resolve(ROOT, "console");
const OUT = resolve(ROOT, "dist/site");
const STAMP = resolve(ROOT, "dist/console-build.json");

// The hashed files never change under their name: browsers may keep them for a year.
const HEADERS = `/console/assets/*
  Cache-Control: public, max-age=31536000, immutable
  X-Content-Type-Options: nosniff
`;

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? files(path) : [path];
  });
}

/** What the build depends on: the console's sources, the locked versions of what it bundles, and how it builds. */
function inputsHash(): string {
  const hash = createHash("sha256");
  const inputs = [...files(SOURCE), resolve(ROOT, "package-lock.json"), import.meta.filename];
  for (const path of inputs.sort()) {
    hash.update(relative(ROOT, path)).update("\0").update(readFileSync(path)).update("\0");
  }
  return hash.digest("hex");
}

function upToDate(hash: string): boolean {
  try {
    return (
      (JSON.parse(readFileSync(STAMP, "utf8")) as { hash?: string }).hash === hash &&
      existsSync(join(OUT, "console/index.html"))
    );
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  const hash = inputsHash();
  if (!process.argv.includes("--force") && upToDate(hash)) return;
  const started = Date.now();
  mkdirSync(resolve(ROOT, "dist"), { recursive: true });
  const staging = `${OUT}.tmp-${process.pid}`;
  const old = `${OUT}.old-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  // What ships is the production build whoever runs this. Vite follows a NODE_ENV it finds set: under
  // a test runner (NODE_ENV=test) it built with the development JSX runtime, every element carrying
  // its source file's absolute path and line (9 KB more), and a later deploy would have shipped that
  // build, since none of its inputs changed.
  process.env.NODE_ENV = "production";
  // Vite is loaded only when there is something to build: the check alone must stay cheap.
  const { build } = await import("vite");
  await build({
    configFile: resolve(SOURCE, "vite.config.ts"),
    logLevel: "warn",
    build: { outDir: join(staging, "console"), emptyOutDir: true },
  });
  writeFileSync(join(staging, "_headers"), HEADERS);
  // Another build may be swapping at the same time (two stacks starting at once): its output is the same.
  try {
    renameSync(OUT, old);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  try {
    renameSync(staging, OUT);
  } catch (err) {
    if (!["ENOTEMPTY", "EEXIST"].includes((err as NodeJS.ErrnoException).code ?? "")) throw err;
  }
  rmSync(staging, { recursive: true, force: true });
  rmSync(old, { recursive: true, force: true });
  writeFileSync(STAMP, `${JSON.stringify({ hash })}\n`);
  console.error(`built the web console into ${relative(ROOT, OUT)} in ${Date.now() - started} ms`);
}

await main();
