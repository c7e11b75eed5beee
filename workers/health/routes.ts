import { sql } from "drizzle-orm";
import { Hono } from "hono";
import { version } from "../../package.json";
import { loadConfig } from "../config/env";
import { RequestDb } from "../db/client";
import { describeDbError } from "../db/errors";
import type { AppEnv } from "../http/types";
import { callSidecar } from "../local/sidecar";
import { REDIS_NOT_CONFIGURED, redisFrom } from "../redis/client";

const CHECK_TIMEOUT_MS = 3000;

interface Check {
  ok: boolean;
  latencyMs?: number;
  configured?: boolean;
  /** False for a check whose failure leaves relay serving (status "degraded", still 200). */
  required?: boolean;
  error?: string;
}

async function timed(run: (signal: AbortSignal) => Promise<unknown>): Promise<Check> {
  const started = Date.now();
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | null = null;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`));
    }, CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([run(controller.signal), timeout]);
    return { ok: true, latencyMs: Date.now() - started };
  } catch (err) {
    return { ok: false, latencyMs: Date.now() - started, error: describeDbError(err) };
  } finally {
    if (timer !== null) clearTimeout(timer);
  }
}

export const healthRoutes = new Hono<AppEnv>()
  // What answers here, for someone who opens the base URL: the name, the version and where to go.
  .get("/", (c) =>
    c.json({
      name: "relay",
      version,
      description: "Self-hostable AI gateway: OpenAI- and Anthropic-compatible APIs over every provider",
      links: {
        health: "/health",
        readiness: "/readyz",
        models: "/v1/models",
        openai_base_url: "/v1",
        anthropic_base_url: "/",
      },
    }),
  )
  // Liveness: no dependency is touched, so a database outage never restarts healthy isolates.
  .get("/health", (c) => {
    // `npm run dev` checks this to know the Worker answering is the one it started.
    if (c.env.RELAY_INSTANCE_ID) c.header("x-relay-instance", c.env.RELAY_INSTANCE_ID);
    return c.json({ status: "ok" });
  })
  .get("/readyz", async (c) => {
    let config: ReturnType<typeof loadConfig>;
    try {
      config = loadConfig(c.env);
    } catch (err) {
      return c.json(
        { status: "not_ready", checks: { config: { ok: false, error: describeDbError(err) } } },
        503,
      );
    }
    const handle = new RequestDb(config);

    const postgres: Promise<Check> = config.DATABASE_URL
      ? timed(() => handle.db.execute(sql`select 1`))
      : Promise.resolve({ ok: false, configured: false, error: "DATABASE_URL is not set" });

    const redisCheck = async (): Promise<Check> => {
      const controller = new AbortController();
      const redis = redisFrom(config, controller.signal);
      // Without Redis the gateway still serves; the features that need it say so themselves.
      if (!redis) return { ok: true, configured: false, error: REDIS_NOT_CONFIGURED };
      return timed(async () => {
        const pong = await redis.ping();
        if (pong !== "PONG") throw new Error(`unexpected PING reply ${JSON.stringify(pong)}`);
      });
    };

    // The sidecar serves local models (and, self-hosted, fronts Postgres and Redis, whose own
    // checks then fail too). Without it cloud traffic still flows, so it degrades, not fails, relay.
    const sidecarCheck = async (): Promise<Check | undefined> => {
      if (!config.SIDECAR_URL) return undefined;
      const check = await timed(async () => {
        const res = await callSidecar(config, "/readyz", { timeoutMs: CHECK_TIMEOUT_MS });
        await res.body?.cancel();
      });
      return { ...check, required: false };
    };

    const [pg, redis, sidecar] = await Promise.all([postgres, redisCheck(), sidecarCheck()]);
    c.executionCtx.waitUntil(handle.close());
    const ready = pg.ok && redis.ok;
    const status = !ready ? "not_ready" : sidecar && !sidecar.ok ? "degraded" : "ready";
    return c.json(
      { status, checks: { postgres: pg, redis, ...(sidecar ? { sidecar } : {}) } },
      ready ? 200 : 503,
    );
  });
