import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import pg from "pg";
import { connectUrl, migrateDatabase } from "../../scripts/lib/database";
import { ROOT } from "../../scripts/lib/env";
import { freePort, type Managed, startProcess, stopProcess, waitForHttp } from "../../scripts/lib/processes";

export { freePort, ROOT };

/** The Postgres and Redis that run on this machine (and in CI). */
export const PG_ADMIN_URL = process.env.RELAY_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";
export const REDIS_URL = process.env.RELAY_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

export function randomHex(bytes = 32): string {
  return randomBytes(bytes).toString("hex");
}

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

async function admin<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** A fresh database per suite, so tests never see each other's rows or a developer's data. */
export async function createTestDatabase(opts: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const name = `relay_test_${randomHex(6)}`;
  await admin((c) => c.query(`create database ${name}`));
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  if (opts.migrate !== false) {
    const handle = await connectUrl(url.href);
    try {
      await migrateDatabase(handle);
    } finally {
      await handle.close();
    }
  }
  return {
    url: url.href,
    name,
    drop: () => admin((c) => c.query(`drop database if exists ${name} with (force)`)).then(() => {}),
  };
}

export interface RunningSidecar {
  url: string;
  port: number;
  process: Managed;
  stop(): Promise<void>;
}

export async function startTestSidecar(env: Record<string, string>): Promise<RunningSidecar> {
  const port = await freePort();
  const proc = startProcess(
    "sidecar",
    process.execPath,
    ["--import", "tsx", resolve(ROOT, "sidecar/src/main.ts")],
    {
      cwd: ROOT,
      env: { ...process.env, ...env, RELAY_SIDECAR_PORT: String(port), RELAY_EXIT_WITH_PARENT: "true" },
      quiet: true,
    },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/health`, 30_000, () => proc.child.exitCode === null);
  return { url, port, process: proc, stop: () => stopProcess(proc) };
}
