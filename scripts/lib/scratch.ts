import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import IORedis from "ioredis";
import pg from "pg";
import type { Env } from "../../workers/config/env";
import { loadConfig } from "../../workers/config/env";
import { outboxKeys } from "../../workers/outbox/queue";
import { connectUrl, migrateDatabase } from "./database";
import { ROOT } from "./env";
import { freePort, type Managed, startProcess, stopProcess, waitForHttp } from "./processes";

// Throwaway infrastructure for the tests and the benchmark: a database of its own on a real
// Postgres, and the sidecar as a child process on a free port.

export interface ScratchDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

async function admin<T>(adminUrl: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

export async function createScratchDatabase(
  adminUrl: string,
  prefix: string,
  opts: { migrate?: boolean } = {},
): Promise<ScratchDatabase> {
  const name = `${prefix}_${randomBytes(6).toString("hex")}`;
  await admin(adminUrl, (c) => c.query(`create database ${name}`));
  const url = new URL(adminUrl);
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
    drop: () =>
      admin(adminUrl, (c) => c.query(`drop database if exists ${name} with (force)`)).then(() => {}),
  };
}

export interface RunningSidecar {
  url: string;
  port: number;
  process: Managed;
  stop(): Promise<void>;
}

/**
 * The sidecar on a free port (or `port`, to bring one back where it was); `wrap` prefixes the
 * command (the benchmark pins it with taskset).
 */
export async function startSidecarProcess(
  env: Record<string, string>,
  opts: { wrap?: string[]; quiet?: boolean; port?: number; onOutput?: (line: string) => void } = {},
): Promise<RunningSidecar> {
  const port = opts.port ?? (await freePort());
  const command = [
    ...(opts.wrap ?? []),
    process.execPath,
    "--import",
    "tsx",
    resolve(ROOT, "sidecar/src/main.ts"),
  ];
  const proc = startProcess("sidecar", command[0] as string, command.slice(1), {
    cwd: ROOT,
    env: { ...process.env, ...env, RELAY_SIDECAR_PORT: String(port), RELAY_EXIT_WITH_PARENT: "true" },
    quiet: opts.quiet ?? true,
    onOutput: opts.onOutput,
  });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/health`, 30_000, () => proc.child.exitCode === null);
  return { url, port, process: proc, stop: () => stopProcess(proc) };
}

/** Deletes the outbox of a scratch database (its items can never be drained): the queue and its claims. */
export async function dropOutbox(redisUrl: string, databaseUrl: string): Promise<void> {
  const redis = new IORedis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const keys = outboxKeys(loadConfig({ DATABASE_URL: databaseUrl } as Env));
    const claimed = await redis.keys(`${keys.claimedPrefix}*`);
    await redis.del(keys.queue, keys.claims, keys.legacy, ...claimed);
  } catch {
    // Best effort: a leftover queue costs memory, not correctness.
  } finally {
    redis.disconnect();
  }
}
