// Processes relay starts run in a group of their own, so stopping one stops whatever it started
// (a start script and its llama-server, wrangler and its workerd). Shared by the sidecar and the
// dev and test tooling.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * SIGTERM to the whole group, then SIGKILL if it has not gone within `graceMs`; resolves once it is
 * gone. Says how it ended: "terminated" on SIGTERM, "killed" after SIGKILL, "gone" if it already was.
 */
export async function stopGroup(pgid: number, graceMs: number): Promise<"terminated" | "killed" | "gone"> {
  try {
    process.kill(-pgid, "SIGTERM");
  } catch {
    return "gone";
  }
  const deadline = Date.now() + graceMs;
  while (groupAlive(pgid) && Date.now() < deadline) await sleep(50);
  if (!groupAlive(pgid)) return "terminated";
  try {
    process.kill(-pgid, "SIGKILL");
  } catch {}
  while (groupAlive(pgid)) await sleep(20);
  return "killed";
}
