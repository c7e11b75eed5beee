import { ErrorNote, Loading, PageHeader } from "../../components/ui";
import { ApiError } from "../../lib/api";
import { formatMs } from "../../lib/format";
import { useData } from "../../lib/use-data";

/** GET /readyz (workers/health/routes.ts): public, answered 503 with the same body when not ready. */
interface Check {
  ok: boolean;
  latencyMs?: number;
  configured?: boolean;
  required?: boolean;
  error?: string;
}

interface Readiness {
  status: "ready" | "degraded" | "not_ready";
  checks: Record<string, Check>;
}

const NAMES: Record<string, string> = {
  postgres: "Postgres",
  redis: "Redis",
  sidecar: "Sidecar",
  config: "Configuration",
};

async function readiness(): Promise<Readiness> {
  const res = await fetch("/readyz", { headers: { accept: "application/json" } });
  const body = (await res.json().catch(() => null)) as Readiness | null;
  if (!body?.checks)
    throw new ApiError(
      `/readyz answered HTTP ${res.status}`,
      res.status,
      null,
      res.headers.get("x-request-id"),
    );
  return body;
}

export default function ReadinessPage() {
  const { data, error, loading, reload } = useData(readiness);
  return (
    <section>
      <PageHeader title="Readiness">What relay depends on, as /readyz checks it now.</PageHeader>
      <ErrorNote error={error} />
      {loading && !data ? (
        <Loading what="checks" />
      ) : data ? (
        <>
          <p
            class={`note ${data.status === "ready" ? "success" : data.status === "degraded" ? "" : "error"}`}
            role="status"
          >
            relay is <strong>{data.status.replace("_", " ")}</strong>
            {data.status === "degraded" && ": it serves, but what depends on the failing check does not work"}
            .
          </p>
          <ul class="cards">
            {Object.entries(data.checks).map(([name, check]) => (
              <li key={name} class="card" data-check={name}>
                <div class="card-title">
                  <h2>{NAMES[name] ?? name}</h2>
                  <span class={`status ${check.ok ? (check.configured === false ? "" : "ok") : "bad"}`}>
                    {check.ok ? (check.configured === false ? "not configured" : "ok") : "failing"}
                  </span>
                </div>
                {check.latencyMs !== undefined && (
                  <p class="muted">Answered in {formatMs(check.latencyMs)}</p>
                )}
                {check.error && <p class="pre-line">{check.error}</p>}
                {check.required === false && (
                  <p class="muted small">Optional: relay serves cloud models without it.</p>
                )}
              </li>
            ))}
          </ul>
        </>
      ) : null}
      <button type="button" class="button" onClick={reload} disabled={loading}>
        {loading ? "Checking…" : "Check again"}
      </button>
    </section>
  );
}
