import { writeFileSync } from "node:fs";
import WebSocket from "ws";

// CPU profiles of the Worker under load, through workerd's inspector (the DevTools protocol):
// `RELAY_BENCH_PROFILE="relay-openai/json c=50" npm run bench -- --quick`.

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

export async function startProfile(inspectorPort: number): Promise<() => Promise<{ nodes: ProfileNode[] }>> {
  const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`)).json()) as {
    webSocketDebuggerUrl: string;
  }[];
  const url = targets[0]?.webSocketDebuggerUrl;
  if (!url) throw new Error("workerd inspector has no target");
  const ws = new WebSocket(url);
  await new Promise((r, j) => {
    ws.once("open", r);
    ws.once("error", j);
  });
  let id = 0;
  const pending = new Map<number, (v: unknown) => void>();
  ws.on("message", (data) => {
    const msg = JSON.parse(String(data)) as { id?: number; result?: unknown };
    if (msg.id !== undefined) pending.get(msg.id)?.(msg.result);
  });
  const send = (method: string, params: object = {}) =>
    new Promise<unknown>((resolve) => {
      const n = ++id;
      pending.set(n, resolve);
      ws.send(JSON.stringify({ id: n, method, params }));
    });
  await send("Profiler.enable");
  await send("Profiler.setSamplingInterval", { interval: 50 });
  await send("Profiler.start");
  return async () => {
    const result = (await send("Profiler.stop")) as { profile: { nodes: ProfileNode[] } };
    ws.close();
    return result.profile;
  };
}

/** Self time by function, most first. */
export function summariseProfile(profile: { nodes: ProfileNode[] }, path: string, top = 30): string {
  writeFileSync(path, JSON.stringify(profile));
  const total = profile.nodes.reduce((t, n) => t + (n.hitCount ?? 0), 0);
  const byFn = new Map<string, number>();
  for (const n of profile.nodes) {
    const f = n.callFrame;
    const key = `${f.functionName || "(anonymous)"} ${f.url.split("/").pop()}:${f.lineNumber + 1}`;
    byFn.set(key, (byFn.get(key) ?? 0) + (n.hitCount ?? 0));
  }
  return [...byFn.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, v]) => `${((v / total) * 100).toFixed(1).padStart(5)}%  ${k}`)
    .join("\n");
}
