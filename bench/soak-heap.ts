import WebSocket from "ws";

// The live JavaScript heap of a process, through its inspector (the DevTools protocol): a full
// collection, then the heap's used size. V8 lets garbage pile up for minutes between major
// collections, so RSS alone cannot tell garbage from a leak over a ten-minute soak; what survives a
// full collection can. workerd's inspector does not answer HeapProfiler.collectGarbage: its heap is
// read as it stands (garbage included), which a small isolate heap collected often makes do.

export interface HeapProbe {
  /** Used heap (and ArrayBuffer storage) after a full collection where the process can be asked for one, in KiB; null if it does not answer. */
  liveKb(): Promise<number | null>;
  close(): void;
}

export async function connectHeapProbe(inspectorPort: number): Promise<HeapProbe> {
  const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`)).json()) as {
    webSocketDebuggerUrl: string;
  }[];
  const url = targets[0]?.webSocketDebuggerUrl;
  if (!url) throw new Error(`no inspector target on port ${inspectorPort}`);
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  ws.on("error", () => {});
  let id = 0;
  const pending = new Map<number, (msg: { result?: unknown; error?: unknown }) => void>();
  ws.on("message", (data) => {
    const msg = JSON.parse(String(data)) as { id?: number; result?: unknown; error?: unknown };
    if (msg.id !== undefined) pending.get(msg.id)?.(msg);
    if (msg.id !== undefined) pending.delete(msg.id);
  });
  let collects = true;
  const send = (method: string) =>
    new Promise<{ result?: unknown; error?: unknown }>((resolve) => {
      const n = ++id;
      pending.set(n, resolve);
      ws.send(JSON.stringify({ id: n, method, params: {} }));
      setTimeout(() => {
        if (pending.delete(n)) resolve({ error: "timeout" });
      }, 3_000);
    });
  return {
    async liveKb() {
      if (ws.readyState !== WebSocket.OPEN) return null;
      if (collects) collects = !(await send("HeapProfiler.collectGarbage")).error;
      const usage = await send("Runtime.getHeapUsage");
      // ArrayBuffer storage too (stream chunks live there, outside the heap proper) where reported.
      const result = usage.result as { usedSize?: number; backingStorageSize?: number } | undefined;
      if (typeof result?.usedSize !== "number") return null;
      return (result.usedSize + (result.backingStorageSize ?? 0)) / 1024;
    },
    close: () => ws.close(),
  };
}
