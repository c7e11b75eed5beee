import { connect, createServer, type Server, type Socket } from "node:net";

/**
 * A TCP proxy a fault test can cut, slow down and restore, in front of Postgres or Redis: the
 * machine's services are never touched. `cut("refuse")` closes the port (connections are refused,
 * open ones reset), `cut("blackhole")` keeps accepting but forwards nothing (connections hang, as
 * behind a dead network), `slow(ms)` delays every chunk each way, `restore()` brings it all back.
 */
export interface TcpProxy {
  port: number;
  url(scheme: string, path?: string): string;
  cut(how?: "refuse" | "blackhole"): Promise<void>;
  slow(ms: number): void;
  restore(): Promise<void>;
  close(): Promise<void>;
  /** Connections opened through the proxy so far. */
  connections(): number;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let mode: "up" | "refuse" | "blackhole" = "up";
  let delayMs = 0;
  let opened = 0;

  const relay = (from: Socket, to: Socket) => {
    from.on("data", (chunk) => {
      if (mode === "blackhole") return;
      if (delayMs) setTimeout(() => to.write(chunk), delayMs);
      else to.write(chunk);
    });
  };

  const onConnection = (client: Socket) => {
    opened++;
    open.add(client);
    client.on("close", () => open.delete(client));
    client.on("error", () => client.destroy());
    if (mode === "blackhole") return;
    const upstream = connect(target);
    open.add(upstream);
    upstream.on("close", () => {
      open.delete(upstream);
      client.destroy();
    });
    upstream.on("error", () => upstream.destroy());
    client.on("close", () => upstream.destroy());
    relay(client, upstream);
    relay(upstream, client);
  };

  let server: Server = createServer(onConnection);
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject);
        resolve((server.address() as { port: number }).port);
      });
    });
  const port = await listen(0);
  const closeServer = () => new Promise<void>((resolve) => server.close(() => resolve()));
  const dropAll = () => {
    for (const s of open) s.destroy();
    open.clear();
  };

  return {
    port,
    url: (scheme, path = "") => `${scheme}://127.0.0.1:${port}${path}`,
    connections: () => opened,
    async cut(how = "refuse") {
      mode = how;
      dropAll();
      if (how === "refuse") await closeServer();
    },
    slow(ms) {
      delayMs = ms;
    },
    async restore() {
      delayMs = 0;
      if (mode === "refuse") {
        server = createServer(onConnection);
        await listen(port);
      } else {
        // Hung connections stay hung: drop them so clients reconnect.
        dropAll();
      }
      mode = "up";
    },
    async close() {
      dropAll();
      if (mode !== "refuse") await closeServer();
    },
  };
}
