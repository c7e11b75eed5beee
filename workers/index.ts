import { createApp } from "./app";
import { type Env, loadConfig } from "./config/env";
import { drainOutbox } from "./outbox/outbox";

const app = createApp();

export default {
  fetch: app.fetch,
  /** Cron: moves queued usage, runs and run events into Postgres (wrangler.toml [triggers]). */
  async scheduled(_controller: ScheduledController, env: Env, ctx: ExecutionContext): Promise<void> {
    ctx.waitUntil(
      drainOutbox(loadConfig(env)).then(
        (moved) => moved && console.log(JSON.stringify({ level: "info", msg: "outbox drained", moved })),
      ),
    );
  },
} satisfies ExportedHandler<Env>;
