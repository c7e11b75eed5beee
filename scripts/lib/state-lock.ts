import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { processAlive, STATE_DIR, STATE_LOCK, shownPath } from "./env";

// One owner per state folder: two stacks on one embedded PGlite would diverge silently (each its
// own copy in memory), and stopping one would delete the other's dev.json. The owner writes its pid
// into lock.json; a lock whose owner is gone (killed, crashed) is taken over.

interface Owner {
  pid: number;
  what: string;
  since: string;
  url?: string;
}

export class StateDirLocked extends Error {
  constructor(owner: Owner) {
    const where = shownPath(STATE_DIR);
    super(
      `${where}/ is in use by ${owner.what} (pid ${owner.pid}${owner.url ? `, ${owner.url}` : ""}, since ${owner.since}). ` +
        `Stop it, or give this one a folder of its own: RELAY_STATE_DIR=<another folder> (and another RELAY_PORT).`,
    );
    this.name = "StateDirLocked";
  }
}

function readOwner(): Owner | null {
  try {
    return JSON.parse(readFileSync(STATE_LOCK, "utf8")) as Owner;
  } catch {
    return null;
  }
}

export interface StateLock {
  /** Adds what others should be told about the owner (the URL it serves). */
  describe(url: string): void;
  release(): void;
}

/** Takes the state folder for this process, or throws StateDirLocked naming its owner. */
export function lockStateDir(what: string): StateLock {
  mkdirSync(STATE_DIR, { recursive: true });
  const owner: Owner = { pid: process.pid, what, since: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(STATE_LOCK, JSON.stringify(owner), { flag: "wx", mode: 0o600 });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw err;
      const current = readOwner();
      if (current && current.pid !== process.pid && processAlive(current.pid)) {
        throw new StateDirLocked(current);
      }
      // Its owner is gone: take it over.
      unlinkSync(STATE_LOCK);
    }
  }
  return {
    describe(url) {
      owner.url = url;
      writeFileSync(STATE_LOCK, JSON.stringify(owner), { mode: 0o600 });
    },
    release() {
      if (readOwner()?.pid === process.pid) {
        try {
          unlinkSync(STATE_LOCK);
        } catch {}
      }
    },
  };
}
