import { randomBytes } from "node:crypto";
import { ROOT } from "../../scripts/lib/env";
import { freePort } from "../../scripts/lib/processes";
import {
  createScratchDatabase,
  type RunningSidecar,
  type ScratchDatabase,
  startSidecarProcess,
} from "../../scripts/lib/scratch";

export { freePort, ROOT, type RunningSidecar };
export type TestDatabase = ScratchDatabase;

/** The Postgres and Redis that run on this machine (and in CI). */
export const PG_ADMIN_URL = process.env.RELAY_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";
export const REDIS_URL = process.env.RELAY_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

export function randomHex(bytes = 32): string {
  return randomBytes(bytes).toString("hex");
}

/** A fresh database per suite, so tests never see each other's rows or a developer's data. */
export function createTestDatabase(opts: { migrate?: boolean } = {}): Promise<TestDatabase> {
  return createScratchDatabase(PG_ADMIN_URL, "relay_test", opts);
}

export function startTestSidecar(env: Record<string, string>): Promise<RunningSidecar> {
  return startSidecarProcess(env);
}
