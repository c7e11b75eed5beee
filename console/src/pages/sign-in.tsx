import { useState } from "preact/hooks";
import { ErrorNote, Field, type SubmitHandler, useAction } from "../components/ui";
import { api } from "../lib/api";
import { type Session, sessionEndReason, setSession } from "../lib/session";

/**
 * A tenant signs in with one of its relay API keys, the operator with RELAY_ADMIN_TOKEN. The secret
 * goes to the Worker once, in exchange for an HttpOnly session cookie; the page keeps nothing.
 */
export function SignIn() {
  const [as, setAs] = useState<"tenant" | "operator">("tenant");
  const [secret, setSecret] = useState("");
  const { busy, error, run } = useAction();
  const ended = sessionEndReason();

  const submit = async (e: SubmitHandler) => {
    e.preventDefault();
    const body = as === "tenant" ? { apiKey: secret.trim() } : { adminToken: secret.trim() };
    const res = await run(() => api<{ session: Session }>("/session", { method: "POST", body }));
    if (res) {
      setSecret("");
      setSession(res.session);
    }
  };

  return (
    <main id="main" class="sign-in">
      <h1>
        <span class="brand">relay</span> console
      </h1>
      {ended && !error && (
        <p class="note" role="status">
          {ended}
        </p>
      )}
      <form onSubmit={submit} class="card">
        <fieldset class="segmented">
          <legend>Sign in as</legend>
          <label>
            <input type="radio" name="as" checked={as === "tenant"} onChange={() => setAs("tenant")} />
            Tenant
          </label>
          <label>
            <input type="radio" name="as" checked={as === "operator"} onChange={() => setAs("operator")} />
            Operator
          </label>
        </fieldset>
        <Field
          label={as === "tenant" ? "API key" : "Admin token"}
          hint={
            as === "tenant" ? (
              <>
                A key of your tenant (<code>relay_live_…</code>), e.g. from <code>npm run bootstrap</code>.
              </>
            ) : (
              <>
                <code>RELAY_ADMIN_TOKEN</code> (in <code>.dev.vars</code> locally).
              </>
            )
          }
        >
          <input
            type="password"
            name="secret"
            autoComplete="off"
            spellcheck={false}
            required
            value={secret}
            onInput={(e) => setSecret(e.currentTarget.value)}
            placeholder={as === "tenant" ? "relay_live_…" : ""}
          />
        </Field>
        <ErrorNote error={error} />
        <button type="submit" class="button primary" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
      <p class="muted small">
        The key is exchanged for a session cookie that ends after 30 minutes unused or 12 hours at most;
        nothing secret is kept in this browser.
      </p>
    </main>
  );
}
