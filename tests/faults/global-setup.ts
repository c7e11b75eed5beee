import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { buildWorker } from "../../bench/workerd";

/** Builds the Worker once, as `wrangler deploy` ships it, for every fault case to serve with workerd. */
export default async function setup(project: TestProject) {
  const dir = mkdtempSync(join(tmpdir(), "relay-faults-"));
  await buildWorker(join(dir, "bundle"));
  project.provide("faultBundleDir", join(dir, "bundle"));
  return () => rmSync(dir, { recursive: true, force: true });
}

declare module "vitest" {
  export interface ProvidedContext {
    faultBundleDir: string;
  }
}
