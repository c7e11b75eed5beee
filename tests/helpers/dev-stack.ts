import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { groupAlive } from "../../scripts/lib/processes";
import { freePort, ROOT } from "./stack";

/** `npm run dev` as a user starts it: in its own process group, as a terminal's foreground job. */
export interface DevStack {
  npm: ChildProcess;
  /** The process group of npm, the shell and the runner (what Ctrl-C or a closed terminal signals). */
  pgid: number;
  base: string;
  port: number;
  stateDir: string;
  output(): string;
  exited: Promise<number | null>;
  /** The runner (scripts/dev.ts), from the dev.json it wrote. */
  runnerPid(): number;
  sidecarUrl(): string;
}

export async function startDev(opts: {
  stateDir: string;
  devVars: string;
  env?: Record<string, string>;
  /** Resolve once the process exits instead of once the stack runs (for a stack that must refuse). */
  expectExit?: boolean;
}): Promise<DevStack> {
  const port = await freePort();
  const npm = spawn("npm", ["run", "dev"], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: "",
      REDIS_URL: "",
      RELAY_SIDECAR_PORT: "",
      RELAY_STATE_DIR: opts.stateDir,
      RELAY_DEV_VARS: opts.devVars,
      RELAY_PORT: String(port),
      ...opts.env,
    },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  npm.stdout?.on("data", (d) => (output += d));
  npm.stderr?.on("data", (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => npm.on("exit", (code) => resolve(code)));
  const stack: DevStack = {
    npm,
    pgid: npm.pid as number,
    base: `http://127.0.0.1:${port}`,
    port,
    stateDir: opts.stateDir,
    output: () => output,
    exited,
    runnerPid: () => JSON.parse(readFileSync(join(opts.stateDir, "dev.json"), "utf8")).pid,
    sidecarUrl: () => JSON.parse(readFileSync(join(opts.stateDir, "dev.json"), "utf8")).sidecarUrl,
  };
  if (opts.expectExit) {
    await Promise.race([exited, sleep(60_000)]);
    return stack;
  }
  const deadline = Date.now() + 120_000;
  while (!output.includes("relay is running")) {
    if (Date.now() > deadline || npm.exitCode !== null)
      throw new Error(`npm run dev did not start:\n${output}`);
    await sleep(200);
  }
  return stack;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Processes that belong to a dev stack: every descendant inherits RELAY_STATE_DIR from npm, so the
 * process table (not the runner's own bookkeeping) says what is still alive.
 */
export function stackProcesses(stateDir: string): string[] {
  const needle = `RELAY_STATE_DIR=${stateDir}\0`;
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    if (Number(pid) === process.pid) continue;
    try {
      if (!readFileSync(`/proc/${pid}/environ`, "latin1").includes(needle)) continue;
      const state = /State:\s+(\w)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
      if (state === "Z") continue; // exited, waiting for its parent to reap it
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();
      found.push(`${pid} ${cmd.slice(0, 140)}`);
    } catch {}
  }
  return found;
}

/** Waits until nothing of the stack is left (or the time is up) and returns what still is. */
export async function leftovers(stack: DevStack, withinMs = 20_000): Promise<string[]> {
  const deadline = Date.now() + withinMs;
  let left = stackProcesses(stack.stateDir);
  while ((left.length > 0 || groupAlive(stack.pgid)) && Date.now() < deadline) {
    await sleep(200);
    left = stackProcesses(stack.stateDir);
  }
  return groupAlive(stack.pgid) ? [...left, `process group ${stack.pgid}`] : left;
}

/** The example settings file, plus the lines given: what `cp .dev.vars.example .dev.vars` and an edit make. */
export function exampleDevVars(extra: string[]): string {
  return `${readFileSync(join(ROOT, ".dev.vars.example"), "utf8")}\n${extra.join("\n")}\n`;
}

export function lockExists(stateDir: string): boolean {
  return existsSync(join(stateDir, "lock.json"));
}
