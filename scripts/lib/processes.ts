import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { resolve } from "node:path";
import { groupAlive, stopGroup } from "../../sidecar/src/process-group";

export { groupAlive };

/** A free TCP port on 127.0.0.1 (or the preferred one when it is free). */
export async function freePort(preferred = 0): Promise<number> {
  const tryPort = (port: number) =>
    new Promise<number | null>((resolve) => {
      const srv = createServer();
      srv.once("error", () => resolve(null));
      srv.listen(port, "127.0.0.1", () => {
        const addr = srv.address();
        const got = typeof addr === "object" && addr ? addr.port : null;
        srv.close(() => resolve(got));
      });
    });
  if (preferred) {
    const got = await tryPort(preferred);
    if (got) return got;
  }
  const got = await tryPort(0);
  if (!got) throw new Error("no free port on 127.0.0.1");
  return got;
}

export async function portIsFree(port: number): Promise<boolean> {
  return (await freePort(port)) === port;
}

export interface Managed {
  name: string;
  child: ChildProcess;
  exited: Promise<number | null>;
}

const TETHER = resolve(import.meta.dirname, "tether.mjs");

/**
 * Starts a child in its own process group, so stopping it also stops whatever it started
 * (wrangler starts workerd). Output is passed through line by line with a name prefix, and each
 * stdout line is offered to `onLine`. With `tether`, the child runs under tether.mjs, which takes
 * its group down when this process goes away, even by SIGKILL.
 */
export function startProcess(
  name: string,
  command: string,
  args: string[],
  opts: {
    env?: NodeJS.ProcessEnv;
    cwd?: string;
    quiet?: boolean;
    tether?: boolean;
    onLine?: (line: string) => void;
    /** Every line of stdout and stderr (a test scans them, e.g. for secrets). */
    onOutput?: (line: string) => void;
  },
): Managed {
  const [cmd, argv] = opts.tether ? [process.execPath, [TETHER, command, ...args]] : [command, args];
  const child = spawn(cmd, argv, {
    cwd: opts.cwd,
    env: opts.env,
    detached: true,
    // A tethered child watches its stdin: this end stays open for as long as this process lives.
    stdio: [opts.tether ? "pipe" : "ignore", "pipe", "pipe"],
  });
  const prefix = (stream: NodeJS.WritableStream, onLine?: (line: string) => void) => {
    let rest = "";
    return (chunk: Buffer) => {
      const lines = (rest + chunk.toString()).split(/\r?\n/);
      rest = lines.pop() ?? "";
      for (const line of lines) {
        onLine?.(line);
        opts.onOutput?.(line);
        if (!opts.quiet && line.trim()) stream.write(`[${name}] ${line}\n`);
      }
    };
  };
  child.stdout?.on("data", prefix(process.stdout, opts.onLine));
  child.stderr?.on("data", prefix(process.stderr));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { name, child, exited };
}

/** SIGTERM to the whole group, then SIGKILL if it has not gone within the grace period. */
export async function stopProcess(p: Managed, graceMs = 5000): Promise<void> {
  if (p.child.pid) await stopGroup(p.child.pid, graceMs);
}

/**
 * Waits for `url` to answer 200. `instance` makes sure the answer comes from the process started
 * here and not from something else on that port: the response must carry it in `x-relay-instance`.
 */
export async function waitForHttp(
  url: string,
  timeoutMs: number,
  alive: () => boolean = () => true,
  instance?: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    if (!alive()) throw new Error(`process exited before ${url} answered`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.body?.cancel();
      if (res.ok && (!instance || res.headers.get("x-relay-instance") === instance)) return;
      last = res.ok ? "something else answers on that port" : `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms (${last})`);
}
