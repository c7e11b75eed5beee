import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { groupAlive, portIsFree } from "../../scripts/lib/processes";
import { runScript } from "../helpers/run";
import { freePort, REDIS_URL, ROOT } from "../helpers/stack";

/** Processes whose command line mentions `needle` (read from /proc, not from our own bookkeeping). */
function processesMentioning(needle: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
      if (cmd.includes(needle) && Number(pid) !== process.pid) found.push(`${pid} ${cmd.slice(0, 120)}`);
    } catch {}
  }
  return found;
}

describe("npm run dev", () => {
  const stateDir = mkdtempSync(join(tmpdir(), "relay-dev-"));
  let pgid = 0;
  afterAll(() => {
    if (pgid && groupAlive(pgid)) process.kill(-pgid, "SIGKILL");
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("serves the stack on embedded PGlite, bootstrap's key works, and Ctrl-C leaves nothing behind", async () => {
    const workerPort = await freePort();
    const sidecarPort = await freePort();
    const env = {
      ...process.env,
      RELAY_STATE_DIR: stateDir,
      RELAY_PORT: String(workerPort),
      RELAY_SIDECAR_PORT: String(sidecarPort),
      REDIS_URL,
      DATABASE_URL: "",
    };
    // Its own process group, as a terminal's foreground job is: Ctrl-C signals the whole group.
    const dev = spawn("npm", ["run", "dev"], {
      cwd: ROOT,
      env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    pgid = dev.pid as number;
    let output = "";
    dev.stdout.on("data", (d) => (output += d));
    dev.stderr.on("data", (d) => (output += d));
    const exited = new Promise<number | null>((resolve) => dev.on("exit", (code) => resolve(code)));

    const deadline = Date.now() + 120_000;
    while (!output.includes("relay is running")) {
      if (Date.now() > deadline || dev.exitCode !== null) throw new Error(`dev did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const base = `http://127.0.0.1:${workerPort}`;
    expect(output).toContain(base);
    expect((await fetch(`${base}/health`)).status).toBe(200);

    const boot = await runScript("bootstrap", ["--json", "--tenant", "dev-e2e"], {
      RELAY_STATE_DIR: stateDir,
    });
    expect(boot.code, boot.stderr).toBe(0);
    const { apiKey } = JSON.parse(boot.stdout);

    const keys = await fetch(`${base}/v1/keys`, { headers: { authorization: `Bearer ${apiKey}` } });
    expect(keys.status).toBe(200);
    const body = (await keys.json()) as { keys: { prefix: string }[] };
    expect(body.keys).toHaveLength(1);
    expect(body.keys[0]?.prefix).toBe(`${apiKey.slice(0, 16)}…`);

    const ready = await fetch(`${base}/readyz`);
    const readyBody = (await ready.json()) as { status: string; checks: { redis: { configured?: boolean } } };
    expect(ready.status, JSON.stringify(readyBody)).toBe(200);
    expect(readyBody.checks.redis.configured).not.toBe(false);

    process.kill(-pgid, "SIGINT");
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r("timeout"), 30_000))]);
    expect(code).not.toBe("timeout");
    for (let i = 0; i < 50 && groupAlive(pgid); i++) await new Promise((r) => setTimeout(r, 100));

    expect(groupAlive(pgid)).toBe(false);
    expect(processesMentioning(`--port ${workerPort}`)).toEqual([]);
    expect(processesMentioning(`entry=127.0.0.1:${workerPort}`)).toEqual([]);
    expect(processesMentioning(stateDir)).toEqual([]);
    expect(await portIsFree(workerPort)).toBe(true);
    expect(await portIsFree(sidecarPort)).toBe(true);
  });
});
