import { useEffect, useRef, useState } from "preact/hooks";
import {
  Empty,
  ErrorNote,
  Field,
  JsonBlock,
  Loading,
  PageHeader,
  Pager,
  type SubmitHandler,
  useAction,
  usePaged,
} from "../../components/ui";
import { api } from "../../lib/api";
import { formatMs } from "../../lib/format";
import {
  type CatalogEntry,
  FAILURE_POLICIES,
  FAILURE_POLICY_TEXT,
  type FailurePolicy,
  type GuardrailMode,
  MODE_TEXT,
  MODES,
} from "../../lib/guardrails";
import { useData } from "../../lib/use-data";

// The operator's guardrail catalog (/admin/guardrails): pii-redact is built in; http guardrails are
// the operator's own services. The API validates everything (names, endpoints, modes, the config
// against its schema) and its messages are shown as they are.

interface Draft {
  name: string;
  description: string;
  endpointUrl: string;
  timeoutMs: string;
  bearerToken: string;
  removeToken: boolean;
  modes: GuardrailMode[];
  failurePolicy: FailurePolicy;
  defaultOn: boolean;
  enabled: boolean;
  config: string;
  configSchema: string;
}

const BLANK: Draft = {
  name: "",
  description: "",
  endpointUrl: "",
  timeoutMs: "",
  bearerToken: "",
  removeToken: false,
  modes: ["pre_call", "post_call"],
  failurePolicy: "fail_closed",
  defaultOn: false,
  enabled: true,
  config: "{}",
  configSchema: "",
};

const pretty = (v: unknown) => JSON.stringify(v, null, 2);

function draftOf(g: CatalogEntry): Draft {
  return {
    ...BLANK,
    name: g.name,
    description: g.description,
    endpointUrl: g.endpointUrl ?? "",
    timeoutMs: g.timeoutMs === null ? "" : String(g.timeoutMs),
    modes: g.modes,
    failurePolicy: g.failurePolicy,
    defaultOn: g.defaultOn,
    enabled: g.enabled,
    config: pretty(g.config),
    configSchema: g.configSchema ? pretty(g.configSchema) : "",
  };
}

/** A JSON field of the form; the API checks the rest. */
function parseObject(text: string, label: string): Record<string, unknown> | null {
  if (!text.trim()) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`${label} is not JSON: ${(err as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new Error(`${label} must be a JSON object ({…})`);
  return value as Record<string, unknown>;
}

/** The request body: POST for a new entry, PATCH with what an entry of its kind may change. */
function bodyOf(d: Draft, entry: CatalogEntry | undefined): Record<string, unknown> {
  const http = !entry || entry.kind === "http";
  const body: Record<string, unknown> = {
    description: d.description.trim(),
    modes: d.modes,
    failurePolicy: d.failurePolicy,
    defaultOn: d.defaultOn,
    enabled: d.enabled,
    config: parseObject(d.config, "Config") ?? {},
  };
  if (!entry) Object.assign(body, { name: d.name.trim(), kind: "http" });
  if (http) {
    body.endpointUrl = d.endpointUrl.trim();
    if (d.timeoutMs.trim()) body.timeoutMs = Number(d.timeoutMs);
    const schema = parseObject(d.configSchema, "Config schema");
    if (schema || entry?.configSchema) body.configSchema = schema;
    if (d.removeToken) body.bearerToken = null;
    else if (d.bearerToken) body.bearerToken = d.bearerToken;
  }
  return body;
}

function GuardrailForm(props: {
  entry?: CatalogEntry;
  onSaved: (g: CatalogEntry) => void;
  onCancel: () => void;
}) {
  const { entry } = props;
  const [d, setD] = useState<Draft>(entry ? draftOf(entry) : BLANK);
  const save = useAction();
  const first = useRef<HTMLInputElement>(null);
  useEffect(() => first.current?.focus(), []);
  const http = !entry || entry.kind === "http";
  const modes = http ? MODES.filter((m) => m !== "during_call") : MODES;
  const set =
    <K extends keyof Draft>(key: K, read: (el: HTMLInputElement & HTMLTextAreaElement) => Draft[K]) =>
    (e: { currentTarget: HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement }) =>
      setD((cur) => ({ ...cur, [key]: read(e.currentTarget as HTMLInputElement & HTMLTextAreaElement) }));
  const value = (el: { value: string }) => el.value;

  const submit = async (e: SubmitHandler) => {
    e.preventDefault();
    let body: Record<string, unknown>;
    try {
      body = bodyOf(d, entry);
    } catch (err) {
      save.setError(err);
      return;
    }
    const res = await save.run(() =>
      entry
        ? api<{ guardrail: CatalogEntry }>(`/admin/guardrails/${encodeURIComponent(entry.name)}`, {
            method: "PATCH",
            body,
          })
        : api<{ guardrail: CatalogEntry }>("/admin/guardrails", { method: "POST", body }),
    );
    if (res) props.onSaved(res.guardrail);
  };

  return (
    <form class="card" onSubmit={submit} aria-label={entry ? `Edit ${entry.name}` : "New http guardrail"}>
      <h2>{entry ? `Edit ${entry.name}` : "New http guardrail"}</h2>
      {http && !entry && (
        <p class="muted small">
          relay POSTs <code>{"{request_id, guardrail, mode, context, config, request | response}"}</code> to
          your service and expects{" "}
          <code>{"{action: allow | block | modify | warn, reason?, metadata?}"}</code> (with the changed{" "}
          <code>request</code> or <code>response</code> for modify).
        </p>
      )}
      <div class="form-grid">
        {!entry && (
          <Field label="Name" hint="a-z, 0-9, - and _: what requests and key policies call it">
            <input
              ref={first}
              required
              maxLength={64}
              value={d.name}
              onInput={set("name", value)}
              autoComplete="off"
              placeholder="toxicity"
            />
          </Field>
        )}
        <Field label="Description">
          <input
            ref={entry ? first : undefined}
            maxLength={2000}
            value={d.description}
            onInput={set("description", value)}
          />
        </Field>
        {http && (
          <>
            <Field
              label="Endpoint URL"
              hint="Your service; private addresses are allowed, metadata services not"
            >
              <input
                type="url"
                required
                value={d.endpointUrl}
                onInput={set("endpointUrl", value)}
                placeholder="https://guard.internal/check"
              />
            </Field>
            <Field label="Timeout (ms)" hint={entry ? "Empty keeps the current one" : "Empty: 5000"}>
              <input
                type="number"
                min={50}
                max={60000}
                step={1}
                value={d.timeoutMs}
                onInput={set("timeoutMs", value)}
              />
            </Field>
            <Field
              label="Bearer token"
              hint={
                entry?.hasToken
                  ? "A token is stored (encrypted, never shown): empty keeps it"
                  : "Optional: sent as Authorization: Bearer …, stored encrypted, never shown"
              }
            >
              <input
                type="password"
                autoComplete="off"
                spellcheck={false}
                disabled={d.removeToken}
                value={d.bearerToken}
                onInput={set("bearerToken", value)}
              />
            </Field>
          </>
        )}
        <Field label="If it fails" hint={FAILURE_POLICY_TEXT[d.failurePolicy]}>
          <select value={d.failurePolicy} onChange={set("failurePolicy", (el) => el.value as FailurePolicy)}>
            {FAILURE_POLICIES.map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
        </Field>
      </div>
      <fieldset class="checks">
        <legend>Checks</legend>
        {modes.map((m) => (
          <label class="check" key={m}>
            <input
              type="checkbox"
              checked={d.modes.includes(m)}
              onChange={(e) => {
                const on = e.currentTarget.checked;
                setD((cur) => ({
                  ...cur,
                  modes: MODES.filter((x) => (x === m ? on : cur.modes.includes(x))),
                }));
              }}
            />
            {MODE_TEXT[m]} <code class="small">{m}</code>
          </label>
        ))}
      </fieldset>
      <fieldset class="checks">
        <legend>Use</legend>
        <label class="check">
          <input type="checkbox" checked={d.enabled} onChange={set("enabled", (el) => el.checked)} />
          Enabled
        </label>
        <label class="check">
          <input type="checkbox" checked={d.defaultOn} onChange={set("defaultOn", (el) => el.checked)} />
          On by default: every request of every tenant, unless a key forbids it
        </label>
        {entry?.hasToken && (
          <label class="check">
            <input
              type="checkbox"
              checked={d.removeToken}
              onChange={set("removeToken", (el) => el.checked)}
            />
            Remove the stored token
          </label>
        )}
      </fieldset>
      <div class="form-grid">
        <Field
          label="Config"
          hint={
            http
              ? "JSON sent to the service with each call; keys may override parts of it"
              : "JSON: restore_output (true), categories (all when absent)"
          }
        >
          <textarea rows={5} spellcheck={false} value={d.config} onInput={set("config", value)} />
        </Field>
        {http && (
          <Field
            label="Config schema"
            hint="JSON Schema the config and keys' overrides must match; empty for none"
          >
            <textarea
              rows={5}
              spellcheck={false}
              value={d.configSchema}
              onInput={set("configSchema", value)}
            />
          </Field>
        )}
      </div>
      <ErrorNote error={save.error} />
      <div class="row-actions">
        <button type="submit" class="button primary" disabled={save.busy}>
          {save.busy ? "Saving…" : entry ? "Save changes" : "Create guardrail"}
        </button>
        <button type="button" class="button" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function Entry(props: {
  g: CatalogEntry;
  busy: boolean;
  onEdit: () => void;
  onToggle: () => void;
  onDelete: () => void;
}) {
  const { g } = props;
  return (
    <li class="card" data-guardrail={g.name}>
      <div class="card-title">
        <h2>
          <code>{g.name}</code>
          <span class="badge">{g.kind === "builtin" ? "built in" : "http"}</span>
        </h2>
        <span class={`status ${g.enabled ? "ok" : ""}`} data-testid="enabled">
          {g.enabled ? "enabled" : "disabled"}
        </span>
      </div>
      {g.description && <p class="muted">{g.description}</p>}
      <dl class="figures">
        <div>
          <dt>Checks</dt>
          <dd>{g.modes.map((m) => MODE_TEXT[m]).join(", ")}</dd>
        </div>
        <div>
          <dt>On by default</dt>
          <dd>{g.defaultOn ? "yes: every request" : "no: when a key or request names it"}</dd>
        </div>
        <div>
          <dt>If it fails</dt>
          <dd>
            <code>{g.failurePolicy}</code>
          </dd>
        </div>
        {g.kind === "http" && (
          <>
            <div>
              <dt>Endpoint</dt>
              <dd class="wrap">{g.endpointUrl}</dd>
            </div>
            <div>
              <dt>Timeout</dt>
              <dd>{formatMs(g.timeoutMs ?? 5000)}</dd>
            </div>
            <div>
              <dt>Token</dt>
              <dd>{g.hasToken ? "stored, encrypted" : "none"}</dd>
            </div>
          </>
        )}
      </dl>
      <details>
        <summary>
          Config<span class="visually-hidden"> of {g.name}</span>
          {g.configSchema ? " and its schema" : ""}
        </summary>
        <JsonBlock value={g.config} label={`Config of ${g.name}`} />
        {g.configSchema && <JsonBlock value={g.configSchema} label={`Config schema of ${g.name}`} />}
      </details>
      <div class="row-actions">
        <button type="button" class="button small" onClick={props.onEdit}>
          Edit<span class="visually-hidden"> {g.name}</span>
        </button>
        <button type="button" class="button small" disabled={props.busy} onClick={props.onToggle}>
          {g.enabled ? "Disable" : "Enable"}
          <span class="visually-hidden"> {g.name}</span>
        </button>
        {g.kind === "http" && (
          <button type="button" class="button small danger" disabled={props.busy} onClick={props.onDelete}>
            Delete<span class="visually-hidden"> {g.name}</span>
          </button>
        )}
      </div>
    </li>
  );
}

export default function GuardrailCatalog() {
  const list = useData(() => api<{ guardrails: CatalogEntry[] }>("/admin/guardrails"));
  const paged = usePaged(list.data?.guardrails);
  const [editing, setEditing] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const change = useAction();
  // What the API answered for a change (or that it deleted one), shown until the list is read again.
  const [fresh, setFresh] = useState<CatalogEntry | null>(null);
  const [deleted, setDeleted] = useState<string | null>(null);
  useEffect(() => {
    setFresh(null);
    setDeleted(null);
  }, [list.data]);

  const saved = (verb: string) => (g: CatalogEntry) => {
    setFresh(g);
    setDone(`${verb} "${g.name}".`);
    setEditing(null);
    setCreating(false);
    list.reload();
  };

  const toggle = async (g: CatalogEntry) => {
    const res = await change.run(() =>
      api<{ guardrail: CatalogEntry }>(`/admin/guardrails/${encodeURIComponent(g.name)}`, {
        method: "PATCH",
        body: { enabled: !g.enabled },
      }),
    );
    if (res) saved(res.guardrail.enabled ? "Enabled" : "Disabled")(res.guardrail);
  };

  const remove = async (g: CatalogEntry) => {
    if (!window.confirm(`Delete the guardrail "${g.name}"? Keys and requests that name it will fail.`))
      return;
    const removed = await change.run(async () => {
      await api(`/admin/guardrails/${encodeURIComponent(g.name)}`, { method: "DELETE" });
      return true;
    });
    if (removed) {
      setDeleted(g.name);
      setDone(`Deleted "${g.name}".`);
      list.reload();
    }
  };

  return (
    <section>
      <PageHeader title="Guardrails">
        The checks relay can run on requests and answers. Keys name which ones apply to them; on by default
        means every request.
      </PageHeader>
      {creating ? (
        <GuardrailForm onSaved={saved("Created")} onCancel={() => setCreating(false)} />
      ) : (
        <p>
          <button
            type="button"
            class="button primary"
            onClick={() => {
              setCreating(true);
              setDone(null);
            }}
          >
            New http guardrail
          </button>
        </p>
      )}
      {done && (
        <p class="note success" role="status">
          {done}
        </p>
      )}
      <ErrorNote error={change.error ?? list.error} />
      {list.loading && !list.data ? (
        <Loading what="the catalog" />
      ) : paged.total === 0 ? (
        <Empty title="The catalog is empty">
          <p>
            Create an http guardrail above. The built-in <code>pii-redact</code> comes with the database
            migrations: <code>npm run db:migrate</code>.
          </p>
        </Empty>
      ) : (
        <>
          <ul class="cards wide">
            {paged.rows
              .filter((row) => row.name !== deleted)
              .map((row) => (fresh?.name === row.name ? fresh : row))
              .map((g) =>
                editing === g.name ? (
                  <li key={g.name}>
                    <GuardrailForm entry={g} onSaved={saved("Saved")} onCancel={() => setEditing(null)} />
                  </li>
                ) : (
                  <Entry
                    key={g.name}
                    g={g}
                    busy={change.busy}
                    onEdit={() => {
                      setEditing(g.name);
                      setDone(null);
                    }}
                    onToggle={() => toggle(g)}
                    onDelete={() => remove(g)}
                  />
                ),
              )}
          </ul>
          <Pager page={paged.page} pages={paged.pages} onPage={paged.setPage} label="Guardrail pages" />
        </>
      )}
    </section>
  );
}
