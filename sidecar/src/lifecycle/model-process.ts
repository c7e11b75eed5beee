import { type ChildProcess, spawn } from "node:child_process";
import { createConnection } from "node:net";
import { log } from "../log";
import { stopGroup } from "../process-group";
import { lifecycleErrors } from "./errors";
import { RingBuffer } from "./ring-buffer";
import type { LifecycleSettings, ModelSpec } from "./settings";

export type ModelState = "starting" | "ready" | "stopping" | "stopped";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether something accepts connections on 127.0.0.1:port. */
export function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/**
 * One llama-server (or compatible) process: started through its `cmd` with LLAMA_PORT set, in a
 * process group of its own so that stopping it stops whatever the script started.
 */
export class ModelProcess {
  state: ModelState = "stopped";
  child: ChildProcess | null = null;
  readonly logs: RingBuffer;
  startedAt = 0;
  readyAt = 0;
  lastUsedAt = 0;
  inflight = 0;
  session: string | null = null;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    readonly name: string,
    readonly spec: ModelSpec,
    readonly port: number,
    private readonly settings: LifecycleSettings,
  ) {
    this.logs = new RingBuffer(settings.RELAY_LIFECYCLE_RING_BUFFER_BYTES);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /** Starts the process and waits until its health check answers 200. */
  async start(): Promise<void> {
    this.state = "starting";
    this.startedAt = Date.now();
    const child = spawn("sh", ["-c", this.spec.cmd], {
      env: { ...process.env, LLAMA_PORT: String(this.port) },
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    child.stdout?.on("data", (d: Buffer) => this.logs.push(d));
    child.stderr?.on("data", (d: Buffer) => this.logs.push(d));
    let exitCode: number | null | undefined;
    this.exited = new Promise((resolve) =>
      child.once("exit", (code, signal) => {
        exitCode = code ?? (signal ? -1 : 0);
        this.state = "stopped";
        resolve();
      }),
    );
    child.once("error", (err) => this.logs.push(Buffer.from(`spawn error: ${err.message}\n`)));
    log("info", "model starting", { model: this.name, port: this.port, pid: child.pid });

    const timeoutMs = this.spec.timeout_sec
      ? this.spec.timeout_sec * 1000
      : this.settings.RELAY_MODEL_START_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    const health = this.spec.health_url ?? `${this.url}/health`;
    while (Date.now() < deadline) {
      if (exitCode !== undefined) {
        throw lifecycleErrors.startFailed(this.name, `exited with code ${exitCode}`, this.logs.tail(2000));
      }
      try {
        const res = await fetch(health, { signal: AbortSignal.timeout(1000) });
        if (res.ok) {
          this.state = "ready";
          this.readyAt = Date.now();
          this.lastUsedAt = this.readyAt;
          log("info", "model ready", {
            model: this.name,
            port: this.port,
            loadMs: this.readyAt - this.startedAt,
          });
          return;
        }
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    await this.stop();
    throw lifecycleErrors.startTimeout(this.name, timeoutMs, this.logs.tail(2000));
  }

  /** SIGTERM to the whole group, wait, then SIGKILL; returns once the port is free. */
  async stop(): Promise<void> {
    const pid = this.child?.pid;
    if (!pid) return;
    this.state = "stopping";
    const ended = await stopGroup(pid, this.settings.RELAY_LIFECYCLE_SHUTDOWN_CONFIRM_TIMEOUT_MS);
    if (ended === "killed")
      log("warn", "model did not stop on SIGTERM; killed it", { model: this.name, pid });
    await this.exited;
    for (let i = 0; i < 100 && (await portInUse(this.port)); i++) await sleep(50);
    this.state = "stopped";
    this.child = null;
    log("info", "model stopped", { model: this.name, port: this.port });
  }
}
