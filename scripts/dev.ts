import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { connectUrl, describeUrl, migrateDatabase } from "./lib/database";
import { DEV_STATE, DEV_VARS, type DevState, nodeEnv, PGLITE_DIR, ROOT, STATE_DIR } from "./lib/env";
import { type LocalPostgres, startLocalPostgres } from "./lib/local-postgres";
import { freePort, type Managed, portIsFree, startProcess, stopProcess, waitForHttp } from "./lib/processes";

// `npm run dev`: Postgres (DATABASE_URL or embedded PGlite) with migrations applied, the sidecar
// (health, the Postgres WebSocket proxy, and Redis over the Upstash REST protocol when REDIS_URL
// is set) and the Worker under `wrangler dev`. Ctrl-C stops every process it started.

const WORKER_VARS = resolve(STATE_DIR, "worker.vars");
const WORKER_BINDINGS = [
  "RELAY_MASTER_KEY",
  "RELAY_MASTER_KEY_PREVIOUS",
  "RELAY_ADMIN_TOKEN",
  "RELAY_INTERNAL_SECRET",
  "RELAY_ALLOW_PRIVATE_UPSTREAMS",
  "RELAY_KEY_CACHE_TTL_MS",
  "MAX_REQUEST_BODY_BYTES",
  "UPSTASH_REDIS_REST_URL",
  "UPSTASH_REDIS_REST_TOKEN",
];

function ensureDevVars(): void {
  if (existsSync(DEV_VARS)) return;
  const secret = () => randomBytes(32).toString("hex");
  const text = readFileSync(resolve(ROOT, ".dev.vars.example"), "utf8")
    .replace(/^RELAY_MASTER_KEY=$/m, `RELAY_MASTER_KEY=${secret()}`)
    .replace(/^RELAY_ADMIN_TOKEN=$/m, `RELAY_ADMIN_TOKEN=${secret()}`)
    .replace(/^RELAY_INTERNAL_SECRET=$/m, `RELAY_INTERNAL_SECRET=${secret()}`);
  writeFileSync(DEV_VARS, text, { mode: 0o600 });
  console.log("created .dev.vars with fresh local secrets (git-ignored; keep it: it holds the master key)");
}

function hostPort(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || 5432}`;
}

async function main(): Promise<void> {
  mkdirSync(STATE_DIR, { recursive: true });
  ensureDevVars();
  const env = nodeEnv();
  const workerPort = Number(env.RELAY_PORT || 8787);
  if (!(await portIsFree(workerPort))) {
    throw new Error(`port ${workerPort} is busy: stop what holds it or set RELAY_PORT`);
  }
  const sidecarPort = env.RELAY_SIDECAR_PORT ? Number(env.RELAY_SIDECAR_PORT) : await freePort(8790);
  const children: Managed[] = [];
  let local: LocalPostgres | null = null;
  let stopping = false;

  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    console.log("\nstopping…");
    await Promise.all(children.map((c) => stopProcess(c)));
    await local?.close().catch(() => {});
    rmSync(DEV_STATE, { force: true });
    process.exit(code);
  };
  process.on("SIGINT", () => void shutdown(0));
  process.on("SIGTERM", () => void shutdown(0));

  try {
    // 1. Postgres, migrated.
    let databaseUrl = env.DATABASE_URL;
    if (!databaseUrl) {
      local = await startLocalPostgres(PGLITE_DIR, env.RELAY_PGLITE_PORT ? Number(env.RELAY_PGLITE_PORT) : 0);
      databaseUrl = local.url;
    }
    const migrator = await connectUrl(databaseUrl);
    try {
      await migrateDatabase(migrator);
    } finally {
      await migrator.close();
    }
    const dbLabel = local ? `embedded PGlite (${PGLITE_DIR})` : describeUrl(databaseUrl);

    // 2. The sidecar, which also carries the Worker's Postgres and Redis plumbing.
    const redisToken = env.REDIS_URL ? randomBytes(24).toString("hex") : undefined;
    const node = process.execPath;
    // Local models: the lifecycle settings (from the environment or .dev.vars) go to the sidecar,
    // and a configured model map turns the lifecycle on.
    const lifecycleEnv: Record<string, string> = {};
    for (const [k, v] of Object.entries(env)) {
      if (
        v !== undefined &&
        /^RELAY_(MODEL_|LIFECYCLE_|SWITCH_|SERIALIZE_|INTERNAL_SECRET|OPERATOR_TOKEN)/.test(k)
      ) {
        lifecycleEnv[k] = v;
      }
    }
    if (lifecycleEnv.RELAY_MODEL_MAP?.trim() && !lifecycleEnv.RELAY_MODEL_LIFECYCLE_ENABLED) {
      lifecycleEnv.RELAY_MODEL_LIFECYCLE_ENABLED = "true";
    }
    const sidecar = startProcess("sidecar", node, ["--import", "tsx", "sidecar/src/main.ts"], {
      cwd: ROOT,
      env: {
        ...process.env,
        ...lifecycleEnv,
        RELAY_SIDECAR_PORT: String(sidecarPort),
        RELAY_EXIT_WITH_PARENT: "true",
        RELAY_PG_PROXY_TARGETS: hostPort(databaseUrl),
        ...(env.REDIS_URL ? { REDIS_URL: env.REDIS_URL, RELAY_REDIS_REST_TOKEN: redisToken } : {}),
      },
    });
    children.push(sidecar);
    const sidecarUrl = `http://127.0.0.1:${sidecarPort}`;
    await waitForHttp(`${sidecarUrl}/health`, 30_000, () => sidecar.child.exitCode === null);

    // 3. The Worker. Its bindings: .dev.vars, then what this script computed.
    const bindings: Record<string, string> = {};
    for (const name of WORKER_BINDINGS) if (env[name]) bindings[name] = env[name] as string;
    Object.assign(bindings, {
      DATABASE_URL: databaseUrl,
      RELAY_DB_WS_PROXY: `ws://127.0.0.1:${sidecarPort}/v2`,
      SIDECAR_URL: sidecarUrl,
      ...(redisToken
        ? { UPSTASH_REDIS_REST_URL: `${sidecarUrl}/redis`, UPSTASH_REDIS_REST_TOKEN: redisToken }
        : {}),
    });
    writeFileSync(
      WORKER_VARS,
      Object.entries(bindings)
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .join("\n"),
      { mode: 0o600 },
    );
    const worker = startProcess(
      "worker",
      node,
      [
        resolve(ROOT, "node_modules/wrangler/bin/wrangler.js"),
        "dev",
        "--ip",
        "127.0.0.1",
        "--port",
        String(workerPort),
        "--inspector-port",
        String(await freePort()),
        "--env-file",
        WORKER_VARS,
        "--persist-to",
        resolve(STATE_DIR, "wrangler"),
        "--show-interactive-dev-session=false",
      ],
      { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: "false", WRANGLER_LOG: "info" } },
    );
    children.push(worker);
    const workerUrl = `http://127.0.0.1:${workerPort}`;
    await waitForHttp(`${workerUrl}/health`, 90_000, () => worker.child.exitCode === null);

    const state: DevState = {
      pid: process.pid,
      workerUrl,
      sidecarUrl,
      ...(local ? { localDatabaseUrl: local.url } : {}),
    };
    writeFileSync(DEV_STATE, JSON.stringify(state, null, 2));

    console.log(`
relay is running
  Worker    ${workerUrl}        (health: ${workerUrl}/health, readiness: ${workerUrl}/readyz)
  Sidecar   ${sidecarUrl}
  Postgres  ${dbLabel}
  Redis     ${env.REDIS_URL ? `${env.REDIS_URL.replace(/\/\/[^@]*@/, "//***@")} (Upstash REST at ${sidecarUrl}/redis)` : env.UPSTASH_REDIS_REST_URL ? "Upstash (from .dev.vars)" : "not configured (set REDIS_URL; /readyz says what needs it)"}

Create a tenant and key:  npm run bootstrap
Press Ctrl-C to stop everything.
`);

    // Any child dying on its own takes the stack down, so nothing half-works silently.
    const first = await Promise.race(children.map((c) => c.exited.then((code) => ({ c, code }))));
    if (!stopping) {
      console.error(`${first.c.name} exited (code ${first.code}); stopping the rest`);
      await shutdown(1);
    }
  } catch (err) {
    console.error(`npm run dev failed: ${err instanceof Error ? err.message : String(err)}`);
    await shutdown(1);
  }
}

await main();
