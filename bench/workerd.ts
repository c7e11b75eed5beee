import { spawn } from "node:child_process";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ROOT } from "../scripts/lib/env";
import { type Managed, startProcess, waitForHttp } from "../scripts/lib/processes";

const WORKERD = resolve(ROOT, "node_modules/@cloudflare/workerd-linux-64/bin/workerd");

const capnpString = (s: string) => JSON.stringify(s);

/** Builds the Worker as `wrangler deploy` would ship it (`--dry-run`), into `outdir`. */
export async function buildWorker(outdir: string, config?: string): Promise<void> {
  rmSync(outdir, { recursive: true, force: true });
  const args = [
    resolve(ROOT, "node_modules/wrangler/bin/wrangler.js"),
    "deploy",
    "--dry-run",
    "--outdir",
    outdir,
  ];
  if (config) args.push("--config", config);
  await new Promise<void>((res, rej) => {
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    });
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    child.on("close", (code) => (code === 0 ? res() : rej(new Error(`wrangler build failed: ${err}`))));
  });
}

/**
 * Serves a built bundle with workerd directly (a generated config), not `wrangler dev`, whose dev
 * proxy would cost more than the Worker itself. Outbound fetches may reach loopback (the mock
 * upstream and the sidecar).
 */
export async function serveWithWorkerd(opts: {
  name: string;
  bundleDir: string;
  port: number;
  bindings: Record<string, string>;
  compatibilityFlags: string[];
  wrap: string[];
  inspectorPort?: number;
  onOutput?: (line: string) => void;
}): Promise<Managed> {
  const modules = readdirSync(opts.bundleDir)
    .filter((f) => f.endsWith(".js") || f.endsWith(".mjs"))
    .map((f) => `(name = ${capnpString(f)}, esModule = embed ${capnpString(f)})`);
  const bindings = Object.entries(opts.bindings).map(
    ([k, v]) => `(name = ${capnpString(k)}, text = ${capnpString(v)})`,
  );
  const config = `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    (name = "loopback", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:${opts.port}", http = (), service = "main") ],
);

const worker :Workerd.Worker = (
  modules = [ ${modules.join(", ")} ],
  compatibilityDate = "2026-11-01",
  compatibilityFlags = [ ${opts.compatibilityFlags.map(capnpString).join(", ")} ],
  bindings = [ ${bindings.join(", ")} ],
  globalOutbound = "loopback",
);
`;
  const path = join(opts.bundleDir, "workerd.capnp");
  writeFileSync(path, config);
  const proc = startProcess(
    opts.name,
    opts.wrap[0] ?? WORKERD,
    [
      ...opts.wrap.slice(1),
      ...(opts.wrap.length ? [WORKERD] : []),
      "serve",
      path,
      ...(opts.inspectorPort ? [`--inspector-addr=127.0.0.1:${opts.inspectorPort}`] : []),
    ],
    {
      cwd: opts.bundleDir,
      env: process.env,
      quiet: true,
      onOutput: opts.onOutput,
    },
  );
  await waitForHttp(`http://127.0.0.1:${opts.port}/health`, 30_000, () => proc.child.exitCode === null).catch(
    async (err) => {
      // The bare Worker has no /health; a 404 from it still proves it listens.
      const res = await fetch(`http://127.0.0.1:${opts.port}/`).catch(() => null);
      if (!res) throw err;
    },
  );
  return proc;
}

/** A process's CPU time in ns over all its threads, from /proc (not from the code measured). */
export function cpuNs(pid: number): number {
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    } catch {}
  }
  return total;
}

/** Resident memory in KiB. */
export function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : 0;
}
