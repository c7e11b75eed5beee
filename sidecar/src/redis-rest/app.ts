import { Hono } from "hono";
import type { Redis } from "ioredis";
import { secretsEqual } from "../../../common/bytes";

/**
 * The Upstash Redis REST protocol in front of a plain Redis, so the Worker's @upstash/redis
 * client works against a self-hosted Redis. It serves `POST /` (one command), `/pipeline` and
 * `/multi-exec`, all behind the bearer token, and honours `Upstash-Encoding: base64`, which the
 * client sends by default and which makes every string reply base64 so binary values survive JSON.
 * Scripts go through as sent (EVAL, EVALSHA, their NOSCRIPT errors included). `GET /stats` counts
 * what it served since start: round trips by their first command (a round trip is what a Redis
 * call costs a Worker) and commands by name.
 */

type Reply = Buffer | string | number | null | Reply[] | Error;
type Encoded = string | number | null | Encoded[];

function encode(value: Reply, base64: boolean): Encoded {
  if (value === null || typeof value === "number") return value;
  if (Array.isArray(value)) return value.map((v) => encode(v, base64));
  if (value instanceof Error) throw value;
  const buf = typeof value === "string" ? Buffer.from(value) : value;
  return base64 ? buf.toString("base64") : buf.toString("utf8");
}

function isCommand(value: unknown): value is (string | number)[] {
  return (
    Array.isArray(value) &&
    value.length > 0 &&
    typeof value[0] === "string" &&
    value.every((v) => typeof v === "string" || typeof v === "number")
  );
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function createRedisRestApp(redis: Redis, token: string): Hono {
  const app = new Hono();
  const served = { roundTrips: {} as Record<string, number>, commands: {} as Record<string, number> };
  const count = (cmds: (string | number)[][]) => {
    const first = String(cmds[0]?.[0]).toLowerCase();
    served.roundTrips[first] = (served.roundTrips[first] ?? 0) + 1;
    for (const [name] of cmds) {
      const n = String(name).toLowerCase();
      served.commands[n] = (served.commands[n] ?? 0) + 1;
    }
  };

  app.use("*", async (c, next) => {
    const given = /^Bearer\s+(.+)$/i.exec(c.req.header("authorization") ?? "")?.[1];
    if (!given || !(await secretsEqual(given, token))) return c.json({ error: "Unauthorized" }, 401);
    await next();
  });

  async function body(c: { req: { json: () => Promise<unknown> } }): Promise<unknown> {
    try {
      return await c.req.json();
    } catch {
      return undefined;
    }
  }

  app.post("/", async (c) => {
    const cmd = await body(c);
    if (!isCommand(cmd)) return c.json({ error: "ERR body must be a JSON array: [command, ...args]" }, 400);
    const base64 = c.req.header("upstash-encoding") === "base64";
    count([cmd]);
    try {
      const [name, ...args] = cmd;
      const reply = (await redis.callBuffer(String(name), ...args)) as Reply;
      return c.json({ result: encode(reply, base64) });
    } catch (err) {
      return c.json({ error: errorText(err) }, 400);
    }
  });

  for (const [path, transactional] of [
    ["/pipeline", false],
    ["/multi-exec", true],
  ] as const) {
    app.post(path, async (c) => {
      const cmds = await body(c);
      if (!Array.isArray(cmds) || cmds.length === 0 || !cmds.every(isCommand)) {
        return c.json({ error: "ERR body must be a non-empty JSON array of commands" }, 400);
      }
      const base64 = c.req.header("upstash-encoding") === "base64";
      count(cmds);
      const batch = transactional ? redis.multi() : redis.pipeline();
      for (const [name, ...args] of cmds) batch.callBuffer(String(name), ...args);
      let results: [Error | null, unknown][] | null;
      try {
        results = await batch.exec();
      } catch (err) {
        return c.json({ error: errorText(err) }, 400);
      }
      if (!results) return c.json({ error: "EXECABORT Transaction discarded" }, 400);
      return c.json(
        results.map(([err, reply]) =>
          err ? { error: errorText(err) } : { result: encode(reply as Reply, base64) },
        ),
      );
    });
  }

  app.get("/stats", (c) => c.json(served));

  return app;
}
