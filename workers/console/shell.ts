import type { Context } from "hono";
import { errors } from "../../common/errors";
import { describeDbError } from "../db/errors";
import type { AppEnv } from "../http/types";
import { clearSessionCookie, issueSessionCookie, loadSession, sentSessionCookie } from "./auth";
import { describeSession } from "./session-routes";
import { RENEW_AFTER_SECONDS } from "./tokens";

// The console's one HTML page (built by Vite into dist/site/console/index.html, see console/),
// served by the Worker so that it carries the session the page starts with: no round trip to ask
// who is signed in, and the CSRF token is there before the first click.

const SHELL_PATH = "/console/index.html";

// Scripts and styles only from this origin (Vite emits no inline code); no framing, no plugins.
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** The static-assets binding (wrangler.toml [assets]); absent where only the bundle runs (npm run bench). */
function assetsOf(c: Context<AppEnv>): Fetcher | undefined {
  return (c.env as unknown as { ASSETS?: Fetcher }).ASSETS;
}

/** A request that would rather have HTML than JSON: a browser opening the base URL. */
export function wantsHtml(c: Context<AppEnv>): boolean {
  const accept = c.req.header("accept") ?? "";
  return /\btext\/html\b/i.test(accept);
}

/** Hashed files under /console/assets/ (normally answered by the assets layer before the Worker runs). */
export async function serveAsset(c: Context<AppEnv>): Promise<Response> {
  const assets = assetsOf(c);
  if (!assets) throw errors.notFound("route_not_found", `No route for GET ${c.req.path}`);
  const res = await assets.fetch(c.req.raw);
  // A fetched response's headers are immutable; the request id still has to go on.
  return new Response(res.body, res);
}

async function sessionForShell(c: Context<AppEnv>) {
  try {
    const loaded = await loadSession(c);
    if (!loaded) {
      if (sentSessionCookie(c)) clearSessionCookie(c);
      return null;
    }
    if (Date.now() / 1000 - loaded.issuedAt >= RENEW_AFTER_SECONDS) {
      await issueSessionCookie(c, loaded.session.id, loaded.session.expiresAt);
    }
    return describeSession(c, loaded.session);
  } catch (err) {
    // The page still loads (and says what is wrong when it asks the API); the cause goes to the log.
    console.error(
      JSON.stringify({ level: "error", msg: "console session lookup failed", error: describeDbError(err) }),
    );
    return null;
  }
}

export async function serveShell(c: Context<AppEnv>): Promise<Response> {
  const assets = assetsOf(c);
  const file = assets ? await assets.fetch(new Request(new URL(SHELL_PATH, c.req.url))) : null;
  if (!file?.ok) {
    await file?.body?.cancel();
    throw errors.unavailable(
      "console_not_built",
      "The web console's files are missing from this deployment (dist/site): `npm install` or `npm run deploy` builds them",
    );
  }
  const boot = { session: await sessionForShell(c) };
  // Inside a <script> element nothing may close it: "<" never appears raw in the JSON.
  const json = JSON.stringify(boot).replaceAll("<", "\\u003c");
  const html = (await file.text()).replace(
    "</head>",
    `<script id="relay-boot" type="application/json">${json}</script></head>`,
  );
  return c.html(html, 200, {
    "cache-control": "no-store",
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    vary: "Accept, Cookie",
  });
}
