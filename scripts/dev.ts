import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { SIDECAR_SETTINGS } from "../sidecar/src/config";
import { cloudAuthEnvNames, type Env, loadConfig, WORKER_SETTINGS } from "../workers/config/env";
import { connectUrl, describeUrl, migrateDatabase } from "./lib/database";
import { ensureDevVars } from "./lib/dev-vars";
import {
  DEV_STATE,
  DEV_VARS,
  type DevState,
  devVarsFile,
  nodeEnv,
  PGLITE_DIR,
  ROOT,
  STATE_DIR,
  shownPath,
} from "./lib/env";
import { type LocalPostgres, startLocalPostgres } from "./lib/local-postgres";
import { type Managed, portIsFree, startProcess, stopProcess, waitForHttp } from "./lib/processes";
import { lockStateDir, StateDirLocked, type StateLock } from "./lib/state-lock";
import { envFileText, workerBindings } from "./lib/worker-vars";

// `npm run dev`: Postgres (DATABASE_URL or embedded PGlite) with migrations applied, the sidecar
// (health, the Postgres WebSocket proxy, Redis over the Upstash REST protocol when REDIS_URL is
// set, local models when RELAY_MODEL_MAP is) and the Worker under `wrangler dev`. However this
// process ends — Ctrl-C, SIGTERM, a closed terminal, SIGKILL, a crash — nothing it started outlives
// it: it stops its children itself when it can, and they watch it when it cannot (the sidecar
// checks its parent; wrangler runs under tether.mjs).

const WORKER_VARS = resolve(STATE_DIR, "worker.vars");
// Settings of the scripts themselves, so that a .dev.vars entry nothing reads can be pointed out.
const SCRIPT_SETTINGS = [
  "REDIS_URL",
  "RELAY_PORT",
  "RELAY_PGLITE_PORT",
  "RELAY_STATE_DIR",
  "RELAY_DEV_VARS",
  "RELAY_TENANT_NAME",
  "ANTHROPIC_API_KEY",
  "OPENAI_API_KEY",
  "OPENAI_BASE_URL",
];
const DRAIN_EVERY_MS = 60_000;

const say = (line: string) => console.log(line);
// A closed terminal makes writes fail; that must not stop the tidying up.
process.stdout.on("error", () => {});
process.stderr.on("error", () => {});

/** Entries of .dev.vars that no part of relay reads: most likely a typo. */
function unreadDevVars(env: Record<string, string | undefined>): string[] {
  const known = new Set([...WORKER_SETTINGS, ...SIDECAR_SETTINGS, ...SCRIPT_SETTINGS]);
  try {
    for (const name of cloudAuthEnvNames(loadConfig(env as Env))) known.add(name);
  } catch {
    // A malformed setting is reported when the Worker's bindings are built.
  }
  return Object.keys(devVarsFile()).filter((k) => !known.has(k));
}

/** The sidecar's settings from the environment and .dev.vars, as its own schema names them. */
function sidecarSettings(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of SIDECAR_SETTINGS) {
    const value = env[name];
    if (value !== undefined && value !== "") out[name] = value;
  }
  // A configured model map turns local models on.
  if (out.RELAY_MODEL_MAP?.trim() && !out.RELAY_MODEL_LIFECYCLE_ENABLED)
    out.RELAY_MODEL_LIFECYCLE_ENABLED = "true";
  return out;
}

function hostPort(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || 5432}`;
}

async function main(): Promise<void> {
  mkdirSync(STATE_DIR, { recursive: true });
  let lock: StateLock;
  try {
    lock = lockStateDir("npm run dev");
  } catch (err) {
    if (!(err instanceof StateDirLocked)) throw err;
    console.error(`npm run dev: ${err.message}`);
    process.exit(1);
  }
  const filled = ensureDevVars();
  if (filled) say(filled);
  const env = nodeEnv();
  const unread = unreadDevVars(env);
  if (unread.length) {
    say(`note: ${shownPath(DEV_VARS)} sets ${unread.join(", ")}, which nothing in relay reads`);
  }

  const children: Managed[] = [];
  let local: LocalPostgres | null = null;
  let drainTimer: NodeJS.Timeout | undefined;
  let stopping = false;

  // Stopped in reverse order of start: the Worker first, so that what it still has to write (usage
  // of the last requests) reaches the sidecar and Postgres, which go last.
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    clearInterval(drainTimer);
    say("\nstopping…");
    // The sidecar's own stop waits for requests in flight, then stops every local model.
    for (const child of [...children].reverse())
      await stopProcess(child, child.name === "sidecar" ? 30_000 : 5000);
    await local?.close().catch(() => {});
    rmSync(DEV_STATE, { force: true });
    lock.release();
    process.exit(code);
  };
  // One Ctrl-C often arrives more than once: the terminal signals the whole foreground group, and
  // npm and tsx pass it on too. Only a signal at least a second after the first means "hurry": then
  // the Worker is killed at once, while the sidecar still gets to stop its local models (they run
  // in process groups of their own and would outlive a killed sidecar).
  let firstSignalAt = 0;
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => {
      const now = Date.now();
      if (!stopping) {
        firstSignalAt = now;
        void shutdown(0);
        return;
      }
      if (now - firstSignalAt < 1000) return;
      for (const child of children) {
        if (child.name !== "sidecar" && child.child.pid) {
          try {
            process.kill(-child.child.pid, "SIGKILL");
          } catch {}
        }
      }
    });
  }
  for (const event of ["uncaughtException", "unhandledRejection"] as const) {
    process.on(event, (err) => {
      console.error(
        `npm run dev crashed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
      );
      void shutdown(1);
    });
  }

  const fail = async (message: string) => {
    console.error(`npm run dev: ${message}`);
    await shutdown(1);
  };

  const workerPort = Number(env.RELAY_PORT || 8787);
  if (!Number.isInteger(workerPort) || workerPort < 1 || workerPort > 65535) {
    return fail(`RELAY_PORT must be a port number, not ${JSON.stringify(env.RELAY_PORT)}`);
  }
  if (!(await portIsFree(workerPort))) {
    return fail(`port ${workerPort} is busy: stop what holds it, or set RELAY_PORT to another port`);
  }

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
    const databaseLabel = local ? `embedded PGlite (${PGLITE_DIR})` : describeUrl(databaseUrl);

    // 2. The sidecar, which also carries the Worker's Postgres and Redis plumbing. It binds its
    // port itself (trying the next ones when taken) and says which in its "sidecar listening" line;
    // the nonce proves the /health that answers is its own.
    const redisToken = env.REDIS_URL ? randomBytes(24).toString("hex") : undefined;
    const sidecarNonce = randomBytes(12).toString("hex");
    let sidecarUrl = "";
    const sidecar = startProcess("sidecar", process.execPath, ["--import", "tsx", "sidecar/src/main.ts"], {
      cwd: ROOT,
      env: {
        ...process.env,
        ...sidecarSettings(env),
        RELAY_SIDECAR_PORT: env.RELAY_SIDECAR_PORT || "8790",
        RELAY_SIDECAR_PORT_SEARCH: env.RELAY_SIDECAR_PORT ? "0" : "100",
        RELAY_INSTANCE_ID: sidecarNonce,
        RELAY_EXIT_WITH_PARENT: "true",
        RELAY_PG_PROXY_TARGETS: hostPort(databaseUrl),
        ...(env.REDIS_URL ? { REDIS_URL: env.REDIS_URL, RELAY_REDIS_REST_TOKEN: redisToken } : {}),
      },
      onLine: (line) => {
        if (!line.includes('"sidecar listening"')) return;
        try {
          sidecarUrl = (JSON.parse(line) as { url: string }).url;
        } catch {}
      },
    });
    children.push(sidecar);
    const deadline = Date.now() + 30_000;
    while (!sidecarUrl) {
      if (sidecar.child.exitCode !== null)
        throw new Error("the sidecar exited while starting (see its output above)");
      if (Date.now() > deadline) throw new Error("the sidecar did not start within 30 s");
      await new Promise((r) => setTimeout(r, 50));
    }
    await waitForHttp(`${sidecarUrl}/health`, 30_000, () => sidecar.child.exitCode === null, sidecarNonce);

    // 3. The Worker, with every setting its config schema knows.
    const workerNonce = randomBytes(12).toString("hex");
    const bindings = workerBindings(env, {
      DATABASE_URL: databaseUrl,
      RELAY_DB_WS_PROXY: `${sidecarUrl.replace(/^http/, "ws")}/v2`,
      SIDECAR_URL: sidecarUrl,
      RELAY_INSTANCE_ID: workerNonce,
      // The embedded database's port changes at every start; its queue must not.
      ...(local ? { RELAY_DATABASE_ID: `pglite:${PGLITE_DIR}` } : {}),
      ...(redisToken
        ? { UPSTASH_REDIS_REST_URL: `${sidecarUrl}/redis`, UPSTASH_REDIS_REST_TOKEN: redisToken }
        : {}),
    });
    writeFileSync(WORKER_VARS, envFileText(bindings), { mode: 0o600 });
    let portTaken = false;
    const worker = startProcess(
      "worker",
      process.execPath,
      [
        resolve(ROOT, "node_modules/wrangler/bin/wrangler.js"),
        "dev",
        "--ip",
        "127.0.0.1",
        "--port",
        String(workerPort),
        "--env-file",
        WORKER_VARS,
        "--persist-to",
        resolve(STATE_DIR, "wrangler"),
        "--show-interactive-dev-session=false",
        // Exposes /__scheduled, which runs the cron trigger (the usage drain) as production does.
        "--test-scheduled",
      ],
      {
        cwd: ROOT,
        env: { ...process.env, WRANGLER_SEND_METRICS: "false", WRANGLER_LOG: "info" },
        tether: true,
        onLine: (line) => {
          if (/address already in use/i.test(line)) portTaken = true;
        },
      },
    );
    children.push(worker);
    const workerUrl = `http://127.0.0.1:${workerPort}`;
    try {
      await waitForHttp(`${workerUrl}/health`, 90_000, () => worker.child.exitCode === null, workerNonce);
    } catch (err) {
      if (portTaken)
        throw new Error(`port ${workerPort} is busy: stop what holds it, or set RELAY_PORT to another port`);
      throw err;
    }

    const state: DevState = { pid: process.pid, workerUrl, sidecarUrl, databaseUrl, databaseLabel };
    writeFileSync(DEV_STATE, JSON.stringify(state, null, 2), { mode: 0o600 });
    lock.describe(workerUrl);

    // Queued usage moves into Postgres every minute, as the production cron trigger does; the first
    // run picks up whatever an earlier session left queued.
    const drain = () =>
      fetch(`${workerUrl}/__scheduled?cron=*+*+*+*+*`, { signal: AbortSignal.timeout(30_000) })
        .then((r) => r.body?.cancel())
        .catch(() => {});
    void drain();
    drainTimer = setInterval(drain, DRAIN_EVERY_MS);

    const redis = env.REDIS_URL
      ? `${env.REDIS_URL.replace(/\/\/[^@]*@/, "//***@")} (Upstash REST at ${sidecarUrl}/redis)`
      : env.UPSTASH_REDIS_REST_URL
        ? "Upstash (from .dev.vars)"
        : "not configured (set REDIS_URL; /readyz says what needs it)";
    say(`
relay is running
  Worker    ${workerUrl}        (health: ${workerUrl}/health, readiness: ${workerUrl}/readyz)
  Sidecar   ${sidecarUrl}
  Postgres  ${databaseLabel}
  Redis     ${redis}

Create a tenant and key:  npm run bootstrap
Press Ctrl-C to stop everything.
`);

    // Any child dying on its own takes the stack down, so nothing half-works silently.
    const first = await Promise.race(children.map((c) => c.exited.then((code) => ({ c, code }))));
    if (!stopping) await fail(`${first.c.name} exited (code ${first.code}); stopping the rest`);
  } catch (err) {
    await fail(err instanceof Error ? err.message : String(err));
  }
}

await main();
