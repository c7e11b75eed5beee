import type { Context } from "hono";
import type { Config } from "../config/env";
import { RequestDb } from "../db/client";
import type { Database } from "../db/database";
import { findRun, listRunEvents, type RunEventRow, type RunRow } from "../db/queries/runs";
import type { AppEnv } from "../http/types";
import { drainOutbox } from "../outbox/outbox";
import { framesOf, lastSeqOf } from "./events";

const POLL_MS = 1000;
const MAX_FOLLOW_MS = 3600_000;
const encoder = new TextEncoder();

/**
 * One look at the database on a connection of its own, closed again at once: a follow lasts as long
 * as the run, and holding one session that long would starve a small pool (the embedded PGlite of
 * `npm run dev` serves one session at a time, so a held one stops every other request).
 */
async function look<T>(config: Config, read: (db: Database) => Promise<T>): Promise<T> {
  const handle = new RequestDb(config);
  try {
    return await read(handle.db);
  } finally {
    await handle.close();
  }
}

/**
 * GET /v1/runs/:id/events with Accept: text/event-stream: the stored events after `after` as the
 * very frames the live client saw, then — while the run is running — what it stores next, until it
 * ends. The run may be served by another isolate: its events arrive here through Postgres (the
 * outbox, drained as this polls), so a follower trails the live client by about a second.
 */
export function followRun(c: Context<AppEnv>, run: RunRow, after: number): Response {
  const config = c.get("config");
  const tenantId = run.tenantId;
  let sent = after;
  let stop = false;
  const signal = c.req.raw.signal;
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      const started = Date.now();
      let current: RunRow | null = run;
      try {
        let rows: RunEventRow[] = await look(config, (db) => listRunEvents(db, tenantId, run.id));
        while (!stop && current) {
          let out = "";
          for (const row of rows) {
            const last = lastSeqOf(row.type, row.seq, row.payload);
            if (last <= sent) continue;
            out += framesOf(row.type, row.seq, row.payload, sent);
            sent = last;
          }
          if (out) controller.enqueue(encoder.encode(out));
          if (current.status !== "running" || Date.now() - started > MAX_FOLLOW_MS) break;
          await new Promise((r) => setTimeout(r, POLL_MS));
          if (stop || signal?.aborted) break;
          await drainOutbox(config, { maxBatches: 5 }).catch(() => {});
          // The run before its events: a run read as ended has its last event stored already.
          ({ current, rows } = await look(config, async (db) => ({
            current: await findRun(db, tenantId, run.id),
            rows: await listRunEvents(db, tenantId, run.id),
          })));
        }
        controller.close();
      } catch (err) {
        console.warn(
          JSON.stringify({ level: "warn", msg: "run follow failed", runId: run.id, error: String(err) }),
        );
        try {
          controller.close();
        } catch {}
      }
    },
    cancel() {
      stop = true;
    },
  });
  return new Response(body, {
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      "x-run-id": run.id,
      "x-workflow-id": run.workflowId,
    },
  });
}
