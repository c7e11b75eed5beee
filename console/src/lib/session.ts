import { useEffect, useState } from "preact/hooks";

/** What the Worker says about the signed-in user (workers/console/session-routes.ts). */
export interface Session {
  kind: "tenant" | "operator";
  tenant: { id: string; name: string } | null;
  key: { id: string; prefix: string } | null;
  expiresAt: string;
  idleTimeoutSeconds: number;
  csrfToken: string;
}

// The Worker writes the session into the page it serves, so no request is needed to know it.
function bootSession(): Session | null {
  const el = document.getElementById("relay-boot");
  try {
    return el?.textContent
      ? ((JSON.parse(el.textContent) as { session: Session | null }).session ?? null)
      : null;
  } catch {
    return null;
  }
}

let current: Session | null = bootSession();
/** Why the last session ended, for the sign-in page to say. */
let endedBecause: string | null = null;
const listeners = new Set<() => void>();

export function getSession(): Session | null {
  return current;
}

export function setSession(next: Session | null, reason: string | null = null): void {
  current = next;
  endedBecause = next ? null : reason;
  for (const listener of listeners) listener();
}

export function sessionEndReason(): string | null {
  return endedBecause;
}

export function useSession(): Session | null {
  const [, rerender] = useState(0);
  useEffect(() => {
    const listener = () => rerender((n) => n + 1);
    listeners.add(listener);
    return () => void listeners.delete(listener);
  }, []);
  return current;
}
