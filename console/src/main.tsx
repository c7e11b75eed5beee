// relay web console: the entry point and the table of pages.
//
// A page is an entry in TENANT_PAGES or OPERATOR_PAGES below plus a component in pages/. Pages get
// their data from the API's own routes, which workers/console/routes.ts mounts under /console/api
// behind the session cookie: tenant pages through TENANT_APIS there, operator pages through every
// /admin route (adminRoutes), so a new admin route is reachable from the console with no extra step.
// A page that is not in the menu (a run's own page) is `hidden`; the menu marks the entry its path
// starts with.
import "./styles.css";
import type { ComponentType } from "preact";
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { LocationProvider, lazy, Route, Router, useLocation } from "preact-iso";
import { Layout } from "./components/layout";
import { useSession } from "./lib/session";
import { Overview } from "./pages/overview";
import { SignIn } from "./pages/sign-in";

export interface PageEntry {
  /** A preact-iso route pattern (`:id` for a segment). */
  path: string;
  title: string;
  component: ComponentType;
  /** Not in the menu: reached from another page. */
  hidden?: true;
}

// The overview is the first page a tenant sees, so it is in the main bundle; the rest load on use.
export const TENANT_PAGES: PageEntry[] = [
  { path: "/console", title: "Overview", component: Overview },
  { path: "/console/keys", title: "Keys", component: lazy(() => import("./pages/keys")) },
  {
    path: "/console/credentials",
    title: "Credentials",
    component: lazy(() => import("./pages/credentials")),
  },
  { path: "/console/models", title: "Models", component: lazy(() => import("./pages/models")) },
  { path: "/console/runs", title: "Runs", component: lazy(() => import("./pages/runs")) },
  { path: "/console/runs/:id", title: "Run", component: lazy(() => import("./pages/run")), hidden: true },
  { path: "/console/rooms", title: "Rooms", component: lazy(() => import("./pages/rooms")) },
  {
    path: "/console/guardrails",
    title: "Guardrails",
    component: lazy(() => import("./pages/guardrails")),
  },
  { path: "/console/audit", title: "Audit log", component: lazy(() => import("./pages/audit")) },
];

export const OPERATOR_PAGES: PageEntry[] = [
  {
    path: "/console/admin/tenants",
    title: "Tenants",
    component: lazy(() => import("./pages/admin/tenants")),
  },
  {
    path: "/console/admin/guardrails",
    title: "Guardrails",
    component: lazy(() => import("./pages/admin/guardrails")),
  },
  {
    path: "/console/admin/guardrail-activity",
    title: "Guardrail activity",
    component: lazy(() => import("./pages/admin/guardrail-activity")),
  },
  {
    path: "/console/admin/local-models",
    title: "Local models",
    component: lazy(() => import("./pages/admin/local-models")),
  },
  {
    path: "/console/admin/readiness",
    title: "Readiness",
    component: lazy(() => import("./pages/admin/readiness")),
  },
];

function NotFound(props: { pages: PageEntry[] }) {
  return (
    <section>
      <h1>No such page here</h1>
      <p>This address is not a page of your console. Go to:</p>
      <ul>
        {props.pages
          .filter((p) => !p.hidden)
          .map((p) => (
            <li key={p.path}>
              <a href={p.path}>{p.title}</a>
            </li>
          ))}
      </ul>
    </section>
  );
}

function App() {
  const session = useSession();
  const { path, route } = useLocation();
  const pages = session?.kind === "operator" ? OPERATOR_PAGES : TENANT_PAGES;
  // While a page's code loads the one before stays in view: it is marked busy meanwhile.
  const [loadingPage, setLoadingPage] = useState(false);
  const home = (pages[0] as PageEntry).path;
  const atRoot =
    path === "/" || path === "/console/admin" || (session?.kind === "operator" && path === "/console");
  useEffect(() => {
    if (session && atRoot) route(home, true);
  }, [session, atRoot, home, route]);

  if (!session) return <SignIn />;
  if (atRoot) return null;
  return (
    <Layout pages={pages} session={session} busy={loadingPage}>
      <Router
        onLoadStart={() => setLoadingPage(true)}
        onLoadEnd={() => setLoadingPage(false)}
        onRouteChange={() => document.getElementById("main")?.focus({ preventScroll: true })}
      >
        {[
          ...pages.map((p) => <Route key={p.path} path={p.path} component={p.component} />),
          <Route key="404" default component={() => <NotFound pages={pages} />} />,
        ]}
      </Router>
    </Layout>
  );
}

render(
  <LocationProvider scope="/console">
    <App />
  </LocationProvider>,
  document.getElementById("app") as HTMLElement,
);
