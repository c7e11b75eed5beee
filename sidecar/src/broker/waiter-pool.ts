import type { Redis } from "ioredis";
import { brokerErrors } from "./errors";

const CONNECT_TIMEOUT_MS = 1000;
/** Idle connections kept for the next waits; the rest are closed when their wait ends. */
const KEEP_IDLE = 32;
/**
 * An idle connection older than this is replaced rather than reused: a socket a firewall dropped
 * silently would swallow the next wait until its guard timer fired.
 */
const MAX_IDLE_MS = 30_000;

/**
 * Connections for blocking commands, one per wait in progress (a blocked connection can serve
 * nobody else), reused across waits and capped, so a burst of waits cannot exhaust Redis.
 */
export class WaiterPool {
  private readonly idle: { conn: Redis; since: number }[] = [];
  private live = 0;
  private closed = false;

  constructor(
    private readonly base: Redis,
    private readonly max: number,
  ) {}

  get inUse(): number {
    return this.live - this.idle.length;
  }

  async acquire(): Promise<Redis> {
    if (this.closed) throw brokerErrors.unavailable();
    for (let entry = this.idle.pop(); entry; entry = this.idle.pop()) {
      if (entry.conn.status === "ready" && Date.now() - entry.since < MAX_IDLE_MS) return entry.conn;
      this.discard(entry.conn);
    }
    if (this.live >= this.max) throw brokerErrors.busy();
    this.live++;
    const conn = this.base.duplicate({
      lazyConnect: true,
      enableOfflineQueue: false,
      // A dropped waiter connection is replaced by a fresh one on the next wait, not reconnected.
      retryStrategy: () => null,
      autoResendUnfulfilledCommands: false,
      connectTimeout: CONNECT_TIMEOUT_MS,
      maxRetriesPerRequest: 0,
      // Blocking commands run for as long as they were told to; the broker guards them itself.
      commandTimeout: undefined,
    });
    // Failures surface through the command that was running; the event itself needs a listener.
    conn.on("error", () => {});
    try {
      await conn.connect();
      return conn;
    } catch {
      this.discard(conn);
      throw brokerErrors.unavailable();
    }
  }

  /** Returns a connection after its wait; `healthy` false when its state is unknown (cut mid-command). */
  release(conn: Redis, healthy: boolean): void {
    if (healthy && !this.closed && conn.status === "ready" && this.idle.length < KEEP_IDLE) {
      this.idle.push({ conn, since: Date.now() });
    } else this.discard(conn);
    // The oldest idle connections sit at the bottom, below those that steady traffic reuses.
    while (this.idle[0] && Date.now() - this.idle[0].since >= MAX_IDLE_MS) {
      this.discard((this.idle.shift() as { conn: Redis }).conn);
    }
  }

  discard(conn: Redis): void {
    this.live--;
    conn.disconnect();
  }

  close(): void {
    this.closed = true;
    for (const { conn } of this.idle.splice(0)) this.discard(conn);
  }
}
