import { createAdaptorServer } from "@hono/node-server";
import { Redis } from "ioredis";
import { createSidecarApp } from "./app";
import { createBroker } from "./broker/create";
import { loadSidecarConfig, type SidecarConfig } from "./config";
import { PgWebSocketProxy } from "./db-proxy/ws-to-tcp";
import { LifecycleManager } from "./lifecycle/manager";
import { log } from "./log";

export const PG_PROXY_PATH = "/v2";

export async function startSidecar(config: SidecarConfig) {
  const redis = config.REDIS_URL
    ? new Redis(config.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: true })
    : null;
  // Redis being down is a readiness problem, not a reason to crash; ioredis keeps reconnecting.
  redis?.on("error", (err) => log("warn", "redis connection error", { error: err.message }));
  redis?.connect().catch(() => {});

  const lifecycle = config.RELAY_MODEL_LIFECYCLE_ENABLED
    ? new LifecycleManager(config, config.RELAY_LIFECYCLE_STATE_FILE)
    : null;
  await lifecycle?.init();
  const broker = createBroker(config, redis);
  const app = createSidecarApp({ config, redis, lifecycle, broker });
  const server = createAdaptorServer({ fetch: app.fetch });
  const pgProxy =
    config.RELAY_PG_PROXY_TARGETS.length > 0 ? new PgWebSocketProxy(config.RELAY_PG_PROXY_TARGETS) : null;

  server.on("upgrade", (req, socket, head) => {
    if (!pgProxy?.handleUpgrade(req, socket, head, PG_PROXY_PATH)) socket.destroy();
  });

  for (let port = config.RELAY_SIDECAR_PORT; ; port++) {
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, config.RELAY_SIDECAR_HOST, () => {
          server.off("error", reject);
          resolve();
        });
      });
      break;
    } catch (err) {
      const busy = (err as NodeJS.ErrnoException).code === "EADDRINUSE";
      if (!busy || port === 0 || port >= config.RELAY_SIDECAR_PORT + config.RELAY_SIDECAR_PORT_SEARCH)
        throw err;
    }
  }
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.RELAY_SIDECAR_PORT;
  log("info", "sidecar listening", {
    url: `http://${config.RELAY_SIDECAR_HOST}:${port}`,
    pgProxy: pgProxy ? { path: PG_PROXY_PATH, targets: config.RELAY_PG_PROXY_TARGETS } : null,
    redisRest: Boolean(redis && config.RELAY_REDIS_REST_TOKEN),
    broker: broker.mode,
    models: lifecycle ? lifecycle.names() : null,
  });

  return {
    port,
    lifecycle,
    /** Stops accepting, lets requests in flight finish within the grace period, stops every model. */
    async close(): Promise<void> {
      pgProxy?.close();
      // Waits answer 204 now, so their Worker re-polls another replica instead of holding the grace.
      broker.drain();
      await new Promise<void>((resolve) => {
        // Idle keep-alive connections (the Worker's pool) would hold close() open until the grace
        // ends, and so would each connection whose request finishes during it: close them as they idle.
        const closeIdle = () =>
          (server as unknown as { closeIdleConnections?: () => void }).closeIdleConnections?.();
        const sweep = setInterval(closeIdle, 100).unref();
        server.close(() => {
          clearInterval(sweep);
          resolve();
        });
        closeIdle();
        // In-flight requests get the grace period; then connections are cut.
        setTimeout(() => {
          (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
          resolve();
        }, config.RELAY_SHUTDOWN_GRACE_MS).unref();
      });
      await lifecycle?.stopAll();
      await broker.close();
      redis?.disconnect();
    },
  };
}

const isEntry = process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/\\/g, "/"));
if (isEntry) {
  let config: SidecarConfig;
  try {
    config = loadSidecarConfig(process.env);
  } catch (err) {
    log("error", (err as Error).message);
    process.exit(1);
  }
  const sidecar = await startSidecar(config);
  let stopping = false;
  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    log("info", "sidecar stopping", { reason });
    sidecar.close().then(() => process.exit(0));
  };
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => stop(signal));
  // Started by `npm run dev` or a test: if that parent dies without stopping us, so do we.
  if (process.env.RELAY_EXIT_WITH_PARENT === "true") {
    const parent = process.ppid;
    setInterval(() => process.ppid !== parent && stop("parent exited"), 1000).unref();
  }
}
