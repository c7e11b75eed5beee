import type { Redis } from "ioredis";
import { RelayError } from "../../../common/errors";
import { log } from "../log";
import { type BrokerErrorCode, brokerError, brokerErrors } from "./errors";
import { defineBrokerScripts } from "./scripts";
import {
  ACTIVE_TTL_MS,
  type Broker,
  type BrokerStats,
  ENDED_TTL_MS,
  type EndStatus,
  type RunStatus,
} from "./types";
import { WaiterPool } from "./waiter-pool";

/** A command that has not answered in this long means Redis is unreachable: the caller gets 503 at once. */
const COMMAND_TIMEOUT_MS = 1000;
/** How long a request waits for the connection to come (back) up before it gets 503. */
const READY_WAIT_MS = 500;
/** A blocking wait that outlives its own timeout by this much is on a dead connection. */
const BLOCK_GRACE_MS = 2000;
/** Redis errors that mean "not now" (loading, failing over, out of memory) rather than a bug here. */
const TRANSIENT_REPLY = /^(OOM|LOADING|BUSY|MASTERDOWN|READONLY|TRYAGAIN|CLUSTERDOWN|NOREPLICAS)\b/;

type Peek = { output: string } | "pending";

/**
 * The broker on Redis: every piece of state is in Redis (see scripts.ts for the keys), so any
 * replica serves any request of any run, and a result posted through one replica wakes a waiter on
 * another. A waiter blocks on its own pooled connection and costs no CPU while it waits.
 */
export class RedisBroker implements Broker {
  readonly mode = "redis" as const;
  private readonly cmd: Redis;
  private readonly pool: WaiterPool;
  /** Stops every wait in progress (drain). */
  private readonly waits = new Set<() => void>();
  private draining = false;

  constructor(
    base: Redis,
    private readonly prefix: string,
    maxWaiters: number,
  ) {
    // A connection of its own: commands fail fast instead of queueing while Redis is away, and a
    // reply lost to a broken connection is an error, never a silent resend (a resent submit would
    // find its own result and answer 409).
    this.cmd = base.duplicate({
      lazyConnect: false,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      commandTimeout: COMMAND_TIMEOUT_MS,
      connectTimeout: 2000,
    });
    // The shared connection already logs Redis being away; this one reconnects quietly.
    this.cmd.on("error", () => {});
    defineBrokerScripts(this.cmd);
    this.pool = new WaiterPool(base, maxWaiters);
  }

  private keys(runId: string) {
    const base = `${this.prefix}{${runId}}:`;
    return { run: `${base}run`, calls: `${base}calls`, wakePrefix: `${base}wake:` };
  }

  private isReady(): boolean {
    return this.cmd.status === "ready";
  }

  private async ready(): Promise<void> {
    if (this.isReady()) return;
    if (this.cmd.status === "end") throw brokerErrors.unavailable();
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.cmd.off("ready", done);
        resolve();
      };
      const timer = setTimeout(done, READY_WAIT_MS);
      this.cmd.once("ready", done);
    });
    if (!this.isReady()) throw brokerErrors.unavailable();
  }

  /** Runs a command; a Redis that is away or failing over is 503 broker_unavailable. */
  private async redis<T>(run: () => Promise<T>): Promise<T> {
    await this.ready();
    try {
      return await run();
    } catch (err) {
      throw this.failure(err);
    }
  }

  private failure(err: unknown): RelayError | Error {
    if (err instanceof RelayError) return err;
    const message = err instanceof Error ? err.message : String(err);
    const isReply = err instanceof Error && err.name === "ReplyError";
    if (isReply && !TRANSIENT_REPLY.test(message)) return err as Error;
    // A command that timed out may sit on a half-open socket: start over with a fresh one.
    if (/timed out/i.test(message)) this.cmd.disconnect(true);
    log("warn", "broker: redis command failed", { error: message });
    return brokerErrors.unavailable();
  }

  async registerRun(runId: string, tenantId: string): Promise<RunStatus> {
    const k = this.keys(runId);
    const [code, status] = await this.redis(() =>
      this.cmd.brokerRegister(k.run, k.calls, tenantId, ACTIVE_TTL_MS),
    );
    if (code !== "ok") throw brokerError(code as BrokerErrorCode);
    return status as RunStatus;
  }

  async addCalls(runId: string, tenantId: string, ids: string[]): Promise<void> {
    const k = this.keys(runId);
    const code = await this.redis(() =>
      this.cmd.brokerAddCalls(k.run, k.calls, tenantId, ACTIVE_TTL_MS, ...ids),
    );
    if (code !== "ok") throw brokerError(code as BrokerErrorCode);
  }

  async submitResult(runId: string, tenantId: string, toolUseId: string, output: string): Promise<void> {
    const k = this.keys(runId);
    const code = await this.redis(() =>
      this.cmd.brokerSubmit(
        k.run,
        k.calls,
        k.wakePrefix + toolUseId,
        tenantId,
        ACTIVE_TTL_MS,
        toolUseId,
        output,
      ),
    );
    if (code !== "ok") throw brokerError(code as BrokerErrorCode);
  }

  async endRun(runId: string, tenantId: string, status: EndStatus): Promise<RunStatus> {
    const k = this.keys(runId);
    const [code, final] = await this.redis(() =>
      this.cmd.brokerEnd(k.run, k.calls, tenantId, status, ENDED_TTL_MS, k.wakePrefix),
    );
    if (code !== "ok") throw brokerError(code as BrokerErrorCode);
    return final as RunStatus;
  }

  private async peek(runId: string, tenantId: string, toolUseId: string): Promise<Peek> {
    const k = this.keys(runId);
    const [code, output] = await this.redis(() => this.cmd.brokerPeek(k.run, k.calls, tenantId, toolUseId));
    if (code === "result") return { output: output as string };
    if (code === "pending") return "pending";
    throw brokerError(code as BrokerErrorCode);
  }

  async waitResult(
    runId: string,
    tenantId: string,
    toolUseId: string,
    waitMs: number,
    signal: AbortSignal,
  ): Promise<string | null> {
    const deadline = Date.now() + waitMs;
    const first = await this.peek(runId, tenantId, toolUseId);
    if (first !== "pending") return first.output;
    const remaining = deadline - Date.now();
    if (remaining < 1 || signal.aborted || this.draining) return null;

    // The wake token is pushed in the same script that stores the result (or ends the run), so a
    // result stored between the peek above and the block below leaves a token: the block returns
    // at once. Nothing is missed, and nothing is consumed.
    const woke = await this.block(this.keys(runId).wakePrefix + toolUseId, remaining, signal);
    if (!woke) return null;
    const after = await this.peek(runId, tenantId, toolUseId);
    return after === "pending" ? null : after.output;
  }

  /** Blocks until the wake list has a token (true), or the time passes or the wait is stopped (false). */
  private async block(wakeKey: string, ms: number, signal: AbortSignal): Promise<boolean> {
    await this.ready();
    const conn = await this.pool.acquire();
    if (signal.aborted || this.draining) {
      this.pool.release(conn, true);
      return false;
    }
    let stopped = false;
    let dead = false;
    // The only way to stop a blocked command is to drop its connection; the pool replaces it.
    const stop = () => {
      stopped = true;
      conn.disconnect();
    };
    const guard = setTimeout(() => {
      dead = true;
      conn.disconnect();
    }, ms + BLOCK_GRACE_MS);
    signal.addEventListener("abort", stop);
    this.waits.add(stop);
    try {
      const token = await conn.blmove(wakeKey, wakeKey, "RIGHT", "LEFT", (ms / 1000).toFixed(3));
      return token !== null;
    } catch (err) {
      if (stopped) return false;
      if (dead) log("warn", "broker: a blocking wait outlived its timeout; dropped its connection");
      throw this.failure(err);
    } finally {
      clearTimeout(guard);
      signal.removeEventListener("abort", stop);
      this.waits.delete(stop);
      this.pool.release(conn, !stopped && !dead);
    }
  }

  stats(): BrokerStats {
    return { mode: "redis", waiting: this.pool.inUse };
  }

  drain(): void {
    this.draining = true;
    for (const stop of this.waits) stop();
  }

  async close(): Promise<void> {
    this.drain();
    this.pool.close();
    this.cmd.disconnect();
  }
}
