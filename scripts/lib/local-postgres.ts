import { mkdirSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

/**
 * An embedded Postgres for `npm run dev` when no DATABASE_URL is given: PGlite with its data in
 * a git-ignored folder, served over the Postgres wire protocol.
 *
 * PGlite is one session. pglite-socket serves a single connection and keeps it open after the
 * client's Terminate, so a front here queues client sessions, hands them to PGlite one at a time,
 * and hangs up as soon as a client terminates, which lets the next one in.
 */
export interface LocalPostgres {
  url: string;
  port: number;
  close(): Promise<void>;
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;

/** Watches client→server bytes for the Terminate message ('X'). */
class TerminateWatcher {
  private buffer = Buffer.alloc(0);
  private startupDone = false;

  /** True once a Terminate has been seen. */
  feed(chunk: Buffer): boolean {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      if (!this.startupDone) {
        if (this.buffer.length < 8) return false;
        const len = this.buffer.readInt32BE(0);
        const code = this.buffer.readInt32BE(4);
        if (this.buffer.length < len) return false;
        this.buffer = this.buffer.subarray(len);
        if (code !== SSL_REQUEST && code !== GSSENC_REQUEST) this.startupDone = true;
        continue;
      }
      if (this.buffer.length < 5) return false;
      const type = this.buffer[0];
      const len = this.buffer.readInt32BE(1);
      if (type === 0x58) return true;
      if (this.buffer.length < 1 + len) return false;
      this.buffer = this.buffer.subarray(1 + len);
    }
  }
}

export async function startLocalPostgres(dataDir: string, port = 0): Promise<LocalPostgres> {
  mkdirSync(dataDir, { recursive: true });
  const db = await PGlite.create({ dataDir });
  const backend = new PGLiteSocketServer({ db, port: 0, host: "127.0.0.1" });
  await backend.start();
  const backendPort = Number(backend.getServerConn().split(":").pop());

  const queue: Socket[] = [];
  let active: Socket | null = null;

  const next = () => {
    if (active) return;
    const client = queue.shift();
    if (!client) return;
    if (client.destroyed) return next();
    active = client;
    const upstream = connect({ host: "127.0.0.1", port: backendPort, noDelay: true });
    const watcher = new TerminateWatcher();
    // The session ends when either side goes away or the client terminates; the slot is handed
    // on only once the backend connection is really closed.
    upstream.on("close", () => {
      client.destroy();
      // pglite-socket frees its single slot on the tick after the close; give it that.
      setTimeout(() => {
        active = null;
        next();
      }, 5);
    });
    upstream.on("error", () => upstream.destroy());
    upstream.on("data", (chunk) => client.write(chunk));
    client.on("data", (chunk) => {
      const terminating = watcher.feed(chunk);
      upstream.write(chunk);
      if (terminating) {
        upstream.end();
        client.end();
      }
    });
    client.on("close", () => upstream.destroy());
    client.on("error", () => client.destroy());
    client.resume();
  };

  const front: Server = createServer({ pauseOnConnect: true, noDelay: true }, (socket) => {
    queue.push(socket);
    socket.on("close", () => {
      const i = queue.indexOf(socket);
      if (i >= 0) queue.splice(i, 1);
    });
    next();
  });
  await new Promise<void>((resolve, reject) => {
    front.once("error", reject);
    front.listen(port, "127.0.0.1", () => resolve());
  });
  const address = front.address();
  const frontPort = typeof address === "object" && address ? address.port : port;

  return {
    port: frontPort,
    url: `postgres://postgres@127.0.0.1:${frontPort}/postgres`,
    async close() {
      for (const s of queue) s.destroy();
      active?.destroy();
      await new Promise<void>((resolve) => front.close(() => resolve()));
      await backend.stop();
      await db.close();
    },
  };
}
