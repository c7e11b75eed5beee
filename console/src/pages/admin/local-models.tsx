import { useEffect, useState } from "preact/hooks";
import {
  CodeBlock,
  Empty,
  ErrorNote,
  Loading,
  PageHeader,
  Pager,
  Time,
  useAction,
  usePaged,
} from "../../components/ui";
import { api } from "../../lib/api";
import { formatInt, formatMinutes } from "../../lib/format";
import { useData } from "../../lib/use-data";

/** GET /admin/local-models (workers/admin/local-models.ts), the sidecar's lifecycle state. */
interface LocalModel {
  name: string;
  state: string;
  port: number | null;
  pid: number | null;
  inflight: number;
  queued: number;
  lastUsedAt: string | null;
  breaker: { failures: number; disabledUntil: string | null };
  ctxSize: number | null;
  multimodal: boolean;
}

interface Status {
  configured: boolean;
  enabled: boolean;
  settings: { maxWarmModels: number; idleShutdownMs: number; serializeRequests: boolean } | null;
  models: LocalModel[];
}

const BUSY_STATES = new Set(["starting", "loading", "stopping"]);

function Logs(props: { name: string }) {
  const { data, error, loading, reload } = useData(
    () => api<{ log: string }>(`/admin/local-models/${encodeURIComponent(props.name)}/logs`),
    [props.name],
  );
  return (
    <div class="logs">
      <ErrorNote error={error} />
      {loading && !data ? (
        <Loading what="log" />
      ) : (
        // A scrolling region must take the keyboard's focus, or its end cannot be reached without a mouse.
        // biome-ignore lint/a11y/noNoninteractiveTabindex: see above.
        <pre tabIndex={0} title={`Output of ${props.name}`}>
          {data?.log || "(no output yet)"}
        </pre>
      )}
      <button type="button" class="button small" onClick={reload}>
        Refresh log
      </button>
    </div>
  );
}

export default function LocalModels() {
  const status = useData(() => api<Status>("/admin/local-models"));
  const paged = usePaged(status.data?.models);
  const action = useAction();
  const [pending, setPending] = useState<string | null>(null);
  const [logsOf, setLogsOf] = useState<string | null>(null);

  // While a model starts or stops, its state is polled.
  const moving = status.data?.models.some((m) => BUSY_STATES.has(m.state)) ?? false;
  useEffect(() => {
    if (!moving) return;
    const timer = setInterval(status.reload, 1500);
    return () => clearInterval(timer);
  }, [moving, status.reload]);

  const act = async (name: string, verb: "load" | "unload") => {
    setPending(name);
    await action.run(() =>
      api(`/admin/local-models/${encodeURIComponent(name)}/${verb}`, { method: "POST" }),
    );
    setPending(null);
    status.reload();
  };

  const data = status.data;
  return (
    <section>
      <PageHeader title="Local models">
        llama.cpp models the sidecar starts on demand and keeps warm.
      </PageHeader>
      <ErrorNote error={action.error ?? status.error} />
      {status.loading && !data ? (
        <Loading what="the sidecar's models" />
      ) : !data ? null : !data.configured ? (
        <Empty title="No sidecar">
          <p>
            Set <code>SIDECAR_URL</code> on the Worker to the sidecar (and the same{" "}
            <code>RELAY_INTERNAL_SECRET</code> on both). <code>npm run dev</code> does it for you.
          </p>
        </Empty>
      ) : !data.enabled ? (
        <Empty title="Local models are off">
          <p>Give the sidecar a model map; each command starts a llama-server on $LLAMA_PORT:</p>
          <CodeBlock
            code={`RELAY_MODEL_MAP={"qwen3-8b":{"cmd":"exec llama-server -m ~/models/qwen3-8b.gguf --port $LLAMA_PORT -c 32768","ctx_size":32768}}`}
          />
        </Empty>
      ) : (
        <>
          {data.settings && (
            <dl class="figures card">
              <div>
                <dt>Warm limit</dt>
                <dd>
                  {formatInt(data.models.filter((m) => m.state !== "stopped").length)} of{" "}
                  {formatInt(data.settings.maxWarmModels)} running
                </dd>
              </div>
              <div>
                <dt>Idle unload after</dt>
                <dd>{formatMinutes(data.settings.idleShutdownMs / 60_000)}</dd>
              </div>
              <div>
                <dt>Requests</dt>
                <dd>{data.settings.serializeRequests ? "one at a time" : "concurrent"}</dd>
              </div>
            </dl>
          )}
          {paged.total === 0 ? (
            <Empty title="The model map is empty" />
          ) : (
            <ul class="cards">
              {paged.rows.map((m) => (
                <li key={m.name} class="card" data-model={m.name}>
                  <div class="card-title">
                    <h2>
                      <code>{m.name}</code>
                    </h2>
                    <span
                      class={`status ${m.state === "ready" ? "ok" : m.state === "stopped" ? "" : "warn"}`}
                      data-testid="state"
                    >
                      {m.state}
                    </span>
                  </div>
                  <dl class="figures">
                    <div>
                      <dt>Context</dt>
                      <dd>{m.ctxSize ? `${formatInt(m.ctxSize)} tokens` : "—"}</dd>
                    </div>
                    <div>
                      <dt>In flight / queued</dt>
                      <dd>
                        {formatInt(m.inflight)} / {formatInt(m.queued)}
                      </dd>
                    </div>
                    <div>
                      <dt>Last used</dt>
                      <dd>
                        <Time iso={m.lastUsedAt} />
                      </dd>
                    </div>
                    <div>
                      <dt>Process</dt>
                      <dd>{m.pid ? `pid ${m.pid}, port ${m.port}` : "—"}</dd>
                    </div>
                  </dl>
                  {m.breaker.disabledUntil && (
                    <p class="note error">
                      Starts disabled after {m.breaker.failures} failures, until{" "}
                      <Time iso={m.breaker.disabledUntil} />.
                    </p>
                  )}
                  <div class="row-actions">
                    {m.state === "stopped" ? (
                      <button
                        type="button"
                        class="button primary small"
                        disabled={pending !== null}
                        onClick={() => act(m.name, "load")}
                      >
                        {pending === m.name ? "Loading…" : "Load"}
                        <span class="visually-hidden"> {m.name}</span>
                      </button>
                    ) : (
                      <button
                        type="button"
                        class="button small"
                        disabled={pending !== null}
                        onClick={() => act(m.name, "unload")}
                      >
                        {pending === m.name ? "Unloading…" : "Unload"}
                        <span class="visually-hidden"> {m.name}</span>
                      </button>
                    )}
                    <button
                      type="button"
                      class="button small"
                      aria-expanded={logsOf === m.name}
                      onClick={() => setLogsOf(logsOf === m.name ? null : m.name)}
                    >
                      {logsOf === m.name ? "Hide log" : "Show log"}
                    </button>
                  </div>
                  {logsOf === m.name && <Logs name={m.name} />}
                </li>
              ))}
            </ul>
          )}
          <Pager page={paged.page} pages={paged.pages} onPage={paged.setPage} label="Model pages" />
        </>
      )}
    </section>
  );
}
