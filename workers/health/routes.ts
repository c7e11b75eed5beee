import { sql } from "drizzle-orm";
import { Hono } from "hono";
import { loadConfig } from "../config/env";
import { RequestDb } from "../db/client";
import type { AppEnv } from "../http/types";
import { REDIS_NOT_CONFIGURED, redisFrom } from "../redis/client";

const CHECK_TIMEOUT_MS = 3000;

interface Check {
  ok: boolean;
  latencyMs?: number;
  configured?: boolean;
  error?: string;
}

// Messages from drivers can name hosts, never secrets; strip anything that looks like userinfo anyway.
function describeFailure(err: unknown): string {
  // drizzle wraps driver errors; the driver's own message is the useful part.
  const inner = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  const text = inner instanceof Error ? inner.message : String(inner);
  return text.replace(/\/\/[^@/\s]+@/g, "//***@").slice(0, 300);
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
    return { ok: false, latencyMs: Date.now() - started, error: describeFailure(err) };
  } finally {
    if (timer !== null) clearTimeout(timer);
  }
}

export const healthRoutes = new Hono<AppEnv>()
  // Liveness: no dependency is touched, so a database outage never restarts healthy isolates.
  .get("/health", (c) => c.json({ status: "ok" }))
  .get("/readyz", async (c) => {
    let config: ReturnType<typeof loadConfig>;
    try {
      config = loadConfig(c.env);
    } catch (err) {
      return c.json(
        { status: "not_ready", checks: { config: { ok: false, error: describeFailure(err) } } },
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

    const [pg, redis] = await Promise.all([postgres, redisCheck()]);
    c.executionCtx.waitUntil(handle.close());
    const ready = pg.ok && redis.ok;
    return c.json(
      { status: ready ? "ready" : "not_ready", checks: { postgres: pg, redis } },
      ready ? 200 : 503,
    );
  });
