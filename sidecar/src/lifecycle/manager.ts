import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { log } from "../log";
import { lifecycleErrors } from "./errors";
import { ModelProcess, portInUse } from "./model-process";
import type { LifecycleSettings } from "./settings";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Lease {
  model: ModelProcess;
  release(): void;
}

interface Counters {
  starts: number;
  stops: number;
  failures: number;
  loadMsTotal: number;
  loadMsLast: number;
}

/**
 * Keeps the right llama-server processes running: starts a model on first use (one start per model,
 * however many requests wait for it), keeps at most RELAY_SWITCH_MAX_WARM_MODELS warm by stopping
 * the least recently used idle one (eager: stop, then start), unloads idle models, restarts a model
 * whose session changes, and stops retrying a model that keeps failing to start.
 */
export class LifecycleManager {
  private readonly procs = new Map<string, ModelProcess>();
  private readonly starting = new Map<string, Promise<ModelProcess>>();
  private readonly failures = new Map<string, number[]>();
  private readonly disabledUntil = new Map<string, number>();
  private readonly waiting = new Map<string, number>();
  private readonly serial = new Map<string, Promise<void>>();
  readonly counters = new Map<string, Counters>();
  private lock: Promise<void> = Promise.resolve();
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly settings: LifecycleSettings,
    private readonly stateFile: string,
  ) {
    for (const name of Object.keys(settings.RELAY_MODEL_MAP)) {
      this.counters.set(name, { starts: 0, stops: 0, failures: 0, loadMsTotal: 0, loadMsLast: 0 });
    }
  }

  /** Reclaims what a crashed previous run left behind, then starts the idle sweep. */
  async init(): Promise<void> {
    if (existsSync(this.stateFile)) {
      try {
        const stale = JSON.parse(readFileSync(this.stateFile, "utf8")) as { pid: number; port: number }[];
        for (const { pid, port } of stale) {
          try {
            process.kill(-pid, "SIGKILL");
            log("warn", "reclaimed a model process left by a previous run", { pid, port });
          } catch {}
          for (let i = 0; i < 100 && (await portInUse(port)); i++) await sleep(50);
        }
      } catch {}
    }
    this.saveState();
    this.idleTimer = setInterval(
      () => void this.sweepIdle(),
      Math.min(1000, this.settings.RELAY_MODEL_IDLE_SHUTDOWN_MS || 1000),
    );
    this.idleTimer.unref();
  }

  names(): string[] {
    return Object.keys(this.settings.RELAY_MODEL_MAP);
  }

  get(name: string): ModelProcess | undefined {
    return this.procs.get(name);
  }

  queueDepth(name: string): number {
    return this.waiting.get(name) ?? 0;
  }

  /** Whether a request for this model can be served without a start. */
  isReady(name: string, session: string | null): boolean {
    const proc = this.procs.get(name);
    return proc?.state === "ready" && (session === null || proc.session === null || proc.session === session);
  }

  /**
   * A lease on a ready model for one request. Waits for the model to start when it must, in arrival
   * order when RELAY_SERIALIZE_REQUESTS is on; answers queue_full when too many wait.
   */
  async acquire(name: string, session: string | null): Promise<Lease> {
    if (!this.settings.RELAY_MODEL_MAP[name]) throw lifecycleErrors.unknown(name);
    const depth = this.queueDepth(name);
    if (depth >= this.settings.RELAY_MODEL_QUEUE_LIMIT) throw lifecycleErrors.queueFull(name);
    this.waiting.set(name, depth + 1);
    let releaseTurn: () => void = () => {};
    try {
      if (this.settings.RELAY_SERIALIZE_REQUESTS) {
        const previous = this.serial.get(name) ?? Promise.resolve();
        const turn = new Promise<void>((r) => (releaseTurn = r));
        this.serial.set(
          name,
          previous.then(() => turn),
        );
        await previous;
      }
      const model = await this.ready(name, session);
      model.inflight++;
      let released = false;
      return {
        model,
        release: () => {
          if (released) return;
          released = true;
          model.inflight--;
          model.lastUsedAt = Date.now();
          releaseTurn();
        },
      };
    } catch (err) {
      releaseTurn();
      throw err;
    } finally {
      this.waiting.set(name, (this.waiting.get(name) ?? 1) - 1);
    }
  }

  private async ready(name: string, session: string | null): Promise<ModelProcess> {
    for (;;) {
      const proc = this.procs.get(name);
      if (
        proc?.state === "ready" &&
        (session === null || proc.session === null || proc.session === session)
      ) {
        if (session !== null) proc.session = session;
        return proc;
      }
      const pending = this.starting.get(name);
      if (pending) {
        // One start per model: wait for it; its failure is ours too (and counts once).
        await pending;
        continue;
      }
      return this.exclusive(() => this.bringUp(name, session));
    }
  }

  /** One switch decision at a time, so two requests never evict or start the same thing twice. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.then(
      () => {},
      () => {},
    );
    return run;
  }

  private async bringUp(name: string, session: string | null): Promise<ModelProcess> {
    const existing = this.procs.get(name);
    if (existing?.state === "ready") {
      if (session === null || existing.session === null || existing.session === session) {
        if (session !== null) existing.session = session;
        return existing;
      }
      // A new session: wait for the old one's requests, then restart so no KV cache is shared.
      while (existing.inflight > 0) await sleep(20);
      log("info", "session changed; restarting model", { model: name });
      await this.stopModel(name);
    }
    const until = this.disabledUntil.get(name) ?? 0;
    if (until > Date.now()) throw lifecycleErrors.disabled(name, until);

    await this.makeRoom(name);
    const spec = this.settings.RELAY_MODEL_MAP[name];
    if (!spec) throw lifecycleErrors.unknown(name);
    const proc = new ModelProcess(name, spec, await this.allocatePort(name), this.settings);
    proc.session = session;
    this.procs.set(name, proc);
    const counters = this.counters.get(name);
    const start = proc
      .start()
      .then(() => {
        if (counters) {
          counters.starts++;
          counters.loadMsLast = proc.readyAt - proc.startedAt;
          counters.loadMsTotal += counters.loadMsLast;
        }
        this.failures.delete(name);
        this.saveState();
        return proc;
      })
      .catch(async (err) => {
        this.procs.delete(name);
        await proc.stop().catch(() => {});
        this.saveState();
        if (counters) counters.failures++;
        this.recordFailure(name);
        throw err;
      })
      .finally(() => this.starting.delete(name));
    this.starting.set(name, start);
    this.saveState();
    return start;
  }

  private recordFailure(name: string): void {
    const now = Date.now();
    const window = this.settings.RELAY_LIFECYCLE_CIRCUIT_BREAKER_WINDOW_MS;
    const recent = (this.failures.get(name) ?? []).filter((t) => now - t <= window);
    recent.push(now);
    this.failures.set(name, recent);
    if (recent.length >= this.settings.RELAY_LIFECYCLE_CIRCUIT_BREAKER_THRESHOLD) {
      const until = now + this.settings.RELAY_LIFECYCLE_CIRCUIT_BREAKER_COOLDOWN_MS;
      this.disabledUntil.set(name, until);
      this.failures.delete(name);
      log("warn", "model start disabled after repeated failures", {
        model: name,
        until: new Date(until).toISOString(),
      });
    }
  }

  breakerState(name: string): { failures: number; disabledUntil: string | null } {
    const until = this.disabledUntil.get(name) ?? 0;
    return {
      failures: this.failures.get(name)?.length ?? 0,
      disabledUntil: until > Date.now() ? new Date(until).toISOString() : null,
    };
  }

  /** Stops the least recently used idle model while the warm limit is reached. */
  private async makeRoom(name: string): Promise<void> {
    for (;;) {
      const warm = [...this.procs.values()].filter((p) => p.name !== name && p.state !== "stopped");
      if (warm.length < this.settings.RELAY_SWITCH_MAX_WARM_MODELS) return;
      const idle = warm
        .filter((p) => p.inflight === 0 && p.state === "ready")
        .sort((a, b) => a.lastUsedAt - b.lastUsedAt);
      const victim = idle[0];
      if (!victim) {
        // Every warm model is busy: a model is never stopped under its requests.
        await sleep(20);
        continue;
      }
      log("info", "switching models", { stopping: victim.name, starting: name });
      await this.stopModel(victim.name);
    }
  }

  private async allocatePort(name: string): Promise<number> {
    const fixed = this.settings.RELAY_MODEL_MAP[name]?.port;
    if (fixed) return fixed;
    const taken = new Set([...this.procs.values()].map((p) => p.port));
    for (const spec of Object.values(this.settings.RELAY_MODEL_MAP)) if (spec.port) taken.add(spec.port);
    for (let port = this.settings.RELAY_MODEL_PORT_BASE; port < 65535; port++) {
      if (!taken.has(port) && !(await portInUse(port))) return port;
    }
    throw lifecycleErrors.startFailed(name, "no free port above RELAY_MODEL_PORT_BASE", "");
  }

  async stopModel(name: string): Promise<boolean> {
    const proc = this.procs.get(name);
    if (!proc) return false;
    this.procs.delete(name);
    await proc.stop();
    const counters = this.counters.get(name);
    if (counters) counters.stops++;
    this.saveState();
    return true;
  }

  /** Explicit preload. */
  async load(name: string): Promise<ModelProcess> {
    const lease = await this.acquire(name, null);
    lease.release();
    return lease.model;
  }

  /** Explicit unload; waits for requests in flight. */
  unload(name: string): Promise<boolean> {
    if (!this.settings.RELAY_MODEL_MAP[name]) throw lifecycleErrors.unknown(name);
    return this.exclusive(async () => {
      const proc = this.procs.get(name);
      while (proc && proc.inflight > 0) await sleep(20);
      return this.stopModel(name);
    });
  }

  private async sweepIdle(): Promise<void> {
    const idleMs = this.settings.RELAY_MODEL_IDLE_SHUTDOWN_MS;
    const now = Date.now();
    for (const proc of [...this.procs.values()]) {
      if (proc.state === "ready" && proc.inflight === 0 && now - proc.lastUsedAt >= idleMs) {
        await this.exclusive(async () => {
          // Look again under the lock: a request may have arrived meanwhile.
          if (
            proc.inflight === 0 &&
            Date.now() - proc.lastUsedAt >= idleMs &&
            this.procs.get(proc.name) === proc
          ) {
            log("info", "unloading idle model", { model: proc.name, idleMs: Date.now() - proc.lastUsedAt });
            await this.stopModel(proc.name);
          }
        });
      }
    }
  }

  /** Stops every model (graceful shutdown). */
  async stopAll(): Promise<void> {
    if (this.idleTimer) clearInterval(this.idleTimer);
    await Promise.allSettled([...this.starting.values()]);
    await Promise.all([...this.procs.keys()].map((name) => this.stopModel(name)));
    this.saveState();
  }

  private saveState(): void {
    const live = [...this.procs.values()].filter((p) => p.pid).map((p) => ({ pid: p.pid, port: p.port }));
    try {
      writeFileSync(this.stateFile, JSON.stringify(live));
    } catch {}
  }
}
