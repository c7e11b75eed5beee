import { createApp } from "./app";
import { type Env, loadConfig } from "./config/env";
import { drainUsage } from "./usage/recorder";

const app = createApp();

export default {
  fetch: app.fetch,
  /** Cron: moves queued usage events into Postgres (wrangler.toml [triggers]). */
  async scheduled(_controller: ScheduledController, env: Env, ctx: ExecutionContext): Promise<void> {
    ctx.waitUntil(
      drainUsage(loadConfig(env)).then(
        (moved) => moved && console.log(JSON.stringify({ level: "info", msg: "usage drained", moved })),
      ),
    );
  },
} satisfies ExportedHandler<Env>;
