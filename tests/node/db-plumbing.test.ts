import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { neonConfig, Pool } from "@neondatabase/serverless";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startLocalPostgres } from "../../scripts/lib/local-postgres";
import {
  createTestDatabase,
  type RunningSidecar,
  startTestSidecar,
  type TestDatabase,
} from "../helpers/stack";

describe("the sidecar's WebSocket-to-TCP proxy for the Neon driver", () => {
  let database: TestDatabase;
  let sidecar: RunningSidecar;

  beforeAll(async () => {
    database = await createTestDatabase();
    sidecar = await startTestSidecar({ RELAY_PG_PROXY_TARGETS: "127.0.0.1:5432" });
    neonConfig.webSocketConstructor = WebSocket;
    neonConfig.wsProxy = (host, port) => `127.0.0.1:${sidecar.port}/v2?address=${host}:${port}`;
    neonConfig.useSecureWebSocket = false;
    neonConfig.pipelineTLS = false;
    neonConfig.pipelineConnect = false;
  });
  afterAll(async () => {
    await sidecar?.stop();
    await database?.drop();
  });

  it("carries real Postgres sessions, transactions included", async () => {
    const pool = new Pool({ connectionString: database.url });
    try {
      const { rows } = await pool.query("select 41 + 1 as answer, current_database() as db");
      expect(rows[0]).toEqual({ answer: 42, db: database.name });
      const client = await pool.connect();
      await client.query("begin");
      await client.query("insert into tenants (name) values ('via-proxy')");
      await client.query("rollback");
      client.release();
      expect(
        (await pool.query("select count(*)::int as n from tenants where name = 'via-proxy'")).rows[0].n,
      ).toBe(0);
    } finally {
      await pool.end();
    }
  });

  it("refuses targets that are not allow-listed", async () => {
    const refused = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${sidecar.port}/v2?address=127.0.0.1:6379`);
      ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      ws.on("open", () => resolve(101));
      ws.on("error", () => {});
    });
    expect(refused).toBe(403);
  });
});

describe("the embedded PGlite served over the Postgres protocol", () => {
  const dir = mkdtempSync(join(tmpdir(), "relay-pglite-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("queues concurrent sessions, hangs up on Terminate, and keeps data across restarts", async () => {
    const local = await startLocalPostgres(dir);
    try {
      const setup = new pg.Client({ connectionString: local.url });
      await setup.connect();
      await setup.query("create table notes (body text)");
      await setup.end(); // resolves only because the front closes on Terminate

      // Three clients at once: each waits for its turn instead of failing.
      await Promise.all(
        [1, 2, 3].map(async (i) => {
          const c = new pg.Client({ connectionString: local.url });
          await c.connect();
          await c.query("begin");
          await c.query("insert into notes values ($1)", [`note ${i}`]);
          await c.query("commit");
          await c.end();
        }),
      );
    } finally {
      await local.close();
    }

    const again = await startLocalPostgres(dir);
    try {
      const c = new pg.Client({ connectionString: again.url });
      await c.connect();
      const { rows } = await c.query("select body from notes order by body");
      await c.end();
      expect(rows.map((r) => r.body)).toEqual(["note 1", "note 2", "note 3"]);
    } finally {
      await again.close();
    }
  });
});
