import { neonConfig, Pool } from "@neondatabase/serverless";
import { drizzle } from "drizzle-orm/neon-serverless";
import { type Config, required } from "../config/env";
import type { Database } from "./database";
import { describeDbError } from "./errors";
import * as schema from "./schema";

let configuredProxy: string | undefined;

/**
 * Against Neon the driver speaks WebSocket to Neon's own proxy. Against any other Postgres it
 * goes through relay's WebSocket-to-TCP proxy (the sidecar's /v2 endpoint), which carries raw
 * Postgres bytes, so the TLS and pipelining shortcuts meant for Neon are switched off.
 */
function configureDriver(proxy: string | undefined): void {
  if (proxy === configuredProxy) return;
  configuredProxy = proxy;
  if (!proxy) return;
  const url = new URL(proxy);
  const base = `${url.host}${url.pathname === "/" ? "" : url.pathname}`;
  neonConfig.wsProxy = (host, port) => `${base}?address=${host}:${port}`;
  neonConfig.useSecureWebSocket = url.protocol === "wss:";
  neonConfig.pipelineTLS = false;
  neonConfig.pipelineConnect = false;
}

/**
 * A per-request database handle. Workers cannot keep sockets across requests, so the pool is
 * opened lazily on first use and closed after the response, once background work is done.
 */
/** How long a request keeps a session it is not using. */
const IDLE_SESSION_MS = 100;

export class RequestDb {
  private pool: Pool | undefined;
  private database: Database | undefined;
  private readonly background: Promise<unknown>[] = [];

  constructor(private readonly config: Config) {}

  get db(): Database {
    if (!this.database) {
      const connectionString = required(this.config, "DATABASE_URL");
      configureDriver(this.config.RELAY_DB_WS_PROXY);
      // One connection per request: a request's queries run in sequence anyway, and a single
      // session is what PGlite (the embedded dev database) can serve.
      // An idle session is closed soon: a request that waits (on an upstream, or for another
      // drainer's batch) must not hold PGlite's only session meanwhile.
      this.pool = new Pool({
        connectionString,
        max: 1,
        connectionTimeoutMillis: 5000,
        idleTimeoutMillis: IDLE_SESSION_MS,
      });
      // An idle client's socket error must not become an unhandled rejection in the isolate.
      this.pool.on("error", () => {});
      this.database = drizzle(this.pool, { schema }) as unknown as Database;
    }
    return this.database;
  }

  /** Work that must not delay the response but must finish before the pool closes. */
  defer(task: () => Promise<unknown>): void {
    this.background.push(
      task().catch((err) =>
        console.error(
          JSON.stringify({ level: "warn", msg: "background db task failed", error: describeDbError(err) }),
        ),
      ),
    );
  }

  /** Whether this request opened a connection or left work behind (most requests do neither). */
  get used(): boolean {
    return this.pool !== undefined || this.background.length > 0;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.background);
    await this.pool?.end().catch(() => {});
  }
}
