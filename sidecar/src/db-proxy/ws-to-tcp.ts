import type { IncomingMessage } from "node:http";
import { connect, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { WebSocketServer } from "ws";
import { log } from "../log";

/**
 * The WebSocket-to-TCP proxy that lets the Neon serverless driver reach a plain Postgres
 * (local, CI, RDS, Supabase…). It speaks Neon's wsproxy convention: the target comes as
 * `?address=host:port`, and every binary frame is raw Postgres protocol bytes in either direction.
 * Only allow-listed targets are dialled, so the endpoint cannot be used to reach anything else.
 */
export class PgWebSocketProxy {
  private readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  private readonly allowed: Set<string>;
  private readonly sockets = new Set<Socket>();

  constructor(targets: string[]) {
    this.allowed = new Set(targets.map(normaliseTarget));
  }

  /** Handles an HTTP upgrade; returns false when the request is not for this proxy. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, path: string): boolean {
    const url = new URL(req.url ?? "/", "http://proxy");
    if (url.pathname !== path) return false;
    const address = url.searchParams.get("address");
    if (!address || !this.allowed.has(normaliseTarget(address))) {
      log("warn", "pg proxy refused target", { address });
      socket.end(
        "HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\ntarget not allowed\n",
      );
      return true;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const [host, port] = splitTarget(address);
      const tcp = connect({ host, port, noDelay: true });
      this.sockets.add(tcp);
      tcp.on("data", (chunk) => {
        if (ws.readyState === ws.OPEN) ws.send(chunk, { binary: true });
      });
      tcp.on("close", () => {
        this.sockets.delete(tcp);
        ws.close();
      });
      tcp.on("error", (err) => {
        log("warn", "pg proxy upstream error", { address, error: err.message });
        ws.close(1011, "upstream error");
      });
      ws.on("message", (data: Buffer | ArrayBuffer | Buffer[]) => {
        tcp.write(Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer));
      });
      ws.on("close", () => tcp.end());
      ws.on("error", () => tcp.destroy());
    });
    return true;
  }

  close(): void {
    for (const s of this.sockets) s.destroy();
    for (const client of this.wss.clients) client.terminate();
    this.wss.close();
  }
}

function splitTarget(target: string): [string, number] {
  const i = target.lastIndexOf(":");
  return [target.slice(0, i).replace(/^\[|\]$/g, ""), Number(target.slice(i + 1))];
}

function normaliseTarget(target: string): string {
  const [host, port] = splitTarget(target.trim().toLowerCase());
  return `${host === "localhost" ? "127.0.0.1" : host}:${port}`;
}
