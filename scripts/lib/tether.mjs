// `node tether.mjs <command> [args…]`: runs the command in a process group of its own and takes
// that whole group down when this process's parent goes away, however it went: Ctrl-C, SIGTERM, a
// closed terminal, SIGKILL or a crash. The parent holds this process's stdin open and never writes
// to it; the end of stdin is the cue, which the kernel gives even when the parent is SIGKILLed.
// `wrangler dev` (and the workerd it starts) cannot watch its parent itself; this does it for them.
// Plain JavaScript so that it starts in milliseconds, with no loader.
import { spawn } from "node:child_process";

const GRACE_MS = Number(process.env.RELAY_TETHER_GRACE_MS || 5000);
const [command, ...args] = process.argv.slice(2);
if (!command) {
  process.stderr.write("usage: node tether.mjs <command> [args…]\n");
  process.exit(2);
}

const child = spawn(command, args, { detached: true, stdio: ["ignore", "inherit", "inherit"] });
const group = child.pid;

const alive = () => {
  try {
    process.kill(-group, 0);
    return true;
  } catch {
    return false;
  }
};
const signalGroup = (signal) => {
  try {
    process.kill(-group, signal);
  } catch {}
};

let stopping = null;
/** SIGTERM to the group, SIGKILL to whatever is left after the grace period; resolves when it is gone. */
function stopGroup() {
  stopping ??= new Promise((resolve) => {
    signalGroup("SIGTERM");
    const deadline = Date.now() + GRACE_MS;
    const poll = setInterval(() => {
      if (!alive()) {
        clearInterval(poll);
        resolve();
      } else if (Date.now() > deadline) signalGroup("SIGKILL");
    }, 50);
  });
  return stopping;
}

process.stdin.on("end", () => void stopGroup());
process.stdin.on("error", () => void stopGroup());
process.stdin.resume();
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => void stopGroup());
// Output may go to a terminal that has closed; that is no reason to stop tidying up.
process.stdout.on("error", () => {});
process.stderr.on("error", () => {});

child.on("error", (err) => {
  process.stderr.write(`tether: cannot start ${command}: ${err.message}\n`);
  process.exit(127);
});
child.on("exit", async (code, signal) => {
  // The command is gone; whatever it started in its group goes with it.
  await stopGroup();
  process.exit(code ?? (signal ? 128 + 15 : 1));
});
