import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { api } from "../lib/api";
import { type Session, setSession } from "../lib/session";
import type { PageEntry } from "../main";
import { ErrorNote } from "./ui";

/** Whether a path is a page's (its pattern as the router reads it: `:name` is any one segment). */
function matches(pattern: string, path: string): boolean {
  const want = pattern.split("/").filter(Boolean);
  const got = path.split("/").filter(Boolean);
  return want.length === got.length && want.every((seg, i) => seg.startsWith(":") || seg === got[i]);
}

/** The page at a path, and the menu entry that stands for it (a hidden page's is the one its path starts with). */
function pageAt(pages: PageEntry[], path: string): { page: PageEntry | null; entry: PageEntry | null } {
  const page = pages.find((p) => matches(p.path, path)) ?? null;
  if (!page?.hidden) return { page, entry: page };
  const entry = pages
    .filter((p) => !p.hidden && page.path.startsWith(`${p.path}/`))
    .sort((a, b) => b.path.length - a.path.length)[0];
  return { page, entry: entry ?? null };
}

export function Layout(props: {
  pages: PageEntry[];
  session: Session;
  busy: boolean;
  children: ComponentChildren;
}) {
  const { path, route } = useLocation();
  const [error, setError] = useState<unknown>(null);
  const { page: current, entry } = pageAt(props.pages, path);
  useEffect(() => {
    document.title = current ? `${current.title} · relay` : "relay console";
  }, [current]);

  const signOut = async () => {
    try {
      await api("/session", { method: "DELETE" });
      setSession(null, "You signed out.");
      route("/", true);
    } catch (err) {
      setError(err);
    }
  };
  const who = props.session.tenant ? props.session.tenant.name : "Operator";
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <div class="topbar-row">
          <a class="brand" href={(props.pages[0] as PageEntry).path}>
            relay
          </a>
          <div class="who">
            <span
              title={
                props.session.key
                  ? `Signed in with key ${props.session.key.prefix}`
                  : "Signed in with the admin token"
              }
            >
              {who}
            </span>
            <button type="button" class="button small" onClick={signOut}>
              Sign out
            </button>
          </div>
        </div>
        <nav aria-label="Console">
          <ul>
            {props.pages
              .filter((p) => !p.hidden)
              .map((p) => (
                <li key={p.path}>
                  <a href={p.path} aria-current={entry?.path === p.path ? "page" : undefined}>
                    {p.title}
                  </a>
                </li>
              ))}
          </ul>
        </nav>
      </header>
      <main id="main" tabIndex={-1} aria-busy={props.busy ? "true" : undefined}>
        <ErrorNote error={error} />
        {props.children}
      </main>
    </>
  );
}
