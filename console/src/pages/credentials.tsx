import { useRef, useState } from "preact/hooks";
import {
  CodeBlock,
  type Column,
  DataTable,
  Empty,
  ErrorNote,
  Field,
  Loading,
  PageHeader,
  Pager,
  type SubmitHandler,
  Time,
  useAction,
  usePaged,
} from "../components/ui";
import { api } from "../lib/api";
import { useData } from "../lib/use-data";

/** GET /v1/credentials: never a secret, only whether there is one. */
interface Credential {
  name: string;
  provider: "anthropic" | "openai" | "openai_compatible";
  label: string | null;
  baseUrl: string | null;
  hasApiKey: boolean;
  createdAt: string;
  updatedAt: string;
}

const PROVIDERS: Record<Credential["provider"], string> = {
  anthropic: "Anthropic API",
  openai: "OpenAI API",
  openai_compatible: "OpenAI-compatible",
};

/** The model names a credential makes routable (README, routing table). */
export function routingFor(name: string): string {
  if (name === "anthropic") return "claude-* and anthropic:<model>";
  if (name === "openai") return "gpt-*, o1/o3/o4, text-embedding-* and openai:<model>";
  return `${name || "<name>"}:<model>`;
}

const empty = { name: "", provider: "", baseUrl: "", apiKey: "", label: "" };

export default function Credentials() {
  const list = useData(() => api<{ credentials: Credential[] }>("/credentials"));
  const paged = usePaged(list.data?.credentials);
  const [form, setForm] = useState(empty);
  const [saved, setSaved] = useState<string | null>(null);
  const save = useAction();
  const remove = useAction();
  const nameInput = useRef<HTMLInputElement>(null);
  const set = (field: keyof typeof empty) => (e: { currentTarget: HTMLInputElement | HTMLSelectElement }) =>
    setForm({ ...form, [field]: e.currentTarget.value });
  const builtIn = form.name === "anthropic" || form.name === "openai";

  const submit = async (e: SubmitHandler) => {
    e.preventDefault();
    const name = form.name.trim();
    const existed = list.data?.credentials.some((c) => c.name === name) ?? false;
    const body: Record<string, string> = {};
    if (form.apiKey) body.apiKey = form.apiKey;
    if (form.baseUrl.trim()) body.baseUrl = form.baseUrl.trim();
    if (form.label.trim()) body.label = form.label.trim();
    if (form.provider && !builtIn) body.provider = form.provider;
    const res = await save.run(() =>
      api<{ credential: Credential }>(`/credentials/${encodeURIComponent(name)}`, { method: "PUT", body }),
    );
    if (res) {
      setSaved(
        `${existed ? "Replaced" : "Added"} "${res.credential.name}": models named ${routingFor(res.credential.name)} now use it.`,
      );
      setForm(empty);
      list.reload();
    }
  };

  const del = async (cred: Credential) => {
    if (
      !window.confirm(
        `Delete the credential "${cred.name}"? Requests routed to ${routingFor(cred.name)} will fail.`,
      )
    )
      return;
    const done = await remove.run(() =>
      api(`/credentials/${encodeURIComponent(cred.name)}`, { method: "DELETE" }),
    );
    if (done) {
      setSaved(`Deleted "${cred.name}".`);
      list.reload();
    }
  };

  const replace = (cred: Credential) => {
    setForm({
      name: cred.name,
      provider: cred.provider === "openai_compatible" ? "" : cred.provider,
      baseUrl: cred.baseUrl ?? "",
      apiKey: "",
      label: cred.label ?? "",
    });
    setSaved(null);
    nameInput.current?.focus();
  };

  const columns: Column<Credential>[] = [
    { label: "Name", render: (c) => <strong>{c.name}</strong> },
    { label: "Routes", render: (c) => <code>{routingFor(c.name)}</code>, class: "wrap" },
    {
      label: "Upstream",
      render: (c) => (
        <>
          {PROVIDERS[c.provider]}
          {c.baseUrl && <div class="muted small wrap">{c.baseUrl}</div>}
        </>
      ),
      class: "wrap",
    },
    {
      label: "API key",
      render: (c) => (c.hasApiKey ? "stored, encrypted" : <span class="muted">none (keyless)</span>),
    },
    { label: "Label", render: (c) => c.label ?? <span class="muted">—</span>, class: "wrap" },
    { label: "Updated", render: (c) => <Time iso={c.updatedAt} /> },
    {
      label: "",
      render: (c) => (
        <span class="row-actions">
          <button type="button" class="button small" onClick={() => replace(c)}>
            Replace<span class="visually-hidden"> {c.name}</span>
          </button>
          <button type="button" class="button small danger" disabled={remove.busy} onClick={() => del(c)}>
            Delete<span class="visually-hidden"> {c.name}</span>
          </button>
        </span>
      ),
      class: "actions",
    },
  ];

  return (
    <section>
      <PageHeader title="Provider credentials">
        Your own keys for Anthropic, OpenAI and any OpenAI-compatible endpoint, encrypted at rest. The name is
        the model prefix that routes to it.
      </PageHeader>

      <form class="card" onSubmit={submit}>
        <h2>Add or replace a credential</h2>
        <div class="form-grid">
          <Field
            label="Name"
            hint={
              <>
                Routes models named <code>{routingFor(form.name.trim())}</code>
              </>
            }
          >
            <input
              ref={nameInput}
              required
              pattern="[a-z0-9][a-z0-9_\-]{0,62}"
              title="lowercase letters, digits, - and _"
              value={form.name}
              onInput={set("name")}
              placeholder="anthropic, openai, groq…"
              autoComplete="off"
            />
          </Field>
          <Field label="Format" hint={builtIn ? "Fixed by the name" : "How relay talks to it"}>
            <select value={builtIn ? form.name : form.provider} onChange={set("provider")} disabled={builtIn}>
              <option value="">OpenAI-compatible</option>
              <option value="anthropic">Anthropic API</option>
              <option value="openai">OpenAI API</option>
            </select>
          </Field>
          <Field
            label="Base URL"
            hint={builtIn ? "Optional: a proxy or regional endpoint" : "e.g. https://api.groq.com/openai/v1"}
          >
            <input type="url" value={form.baseUrl} onInput={set("baseUrl")} placeholder="https://…" />
          </Field>
          <Field
            label="API key"
            hint="Write-only: relay never shows it again. Leave empty for a keyless local server."
          >
            <input
              type="password"
              value={form.apiKey}
              onInput={set("apiKey")}
              autoComplete="off"
              spellcheck={false}
            />
          </Field>
          <Field label="Label" hint="Optional note, e.g. prod">
            <input value={form.label} maxLength={120} onInput={set("label")} />
          </Field>
        </div>
        <ErrorNote error={save.error} />
        <button type="submit" class="button primary" disabled={save.busy}>
          {save.busy ? "Saving…" : "Save credential"}
        </button>
      </form>
      {saved && (
        <p class="note success" role="status">
          {saved}
        </p>
      )}

      <ErrorNote error={remove.error ?? list.error} />
      {list.loading && !list.data ? (
        <Loading what="credentials" />
      ) : paged.total === 0 ? (
        <Empty title="No credentials yet">
          <p>Add one with the form above, or from a terminal:</p>
          <CodeBlock
            code={`curl -X PUT ${location.origin}/v1/credentials/anthropic \\
  -H "authorization: Bearer $RELAY_KEY" -H 'content-type: application/json' \\
  -d '{"apiKey":"sk-ant-…"}'`}
          />
        </Empty>
      ) : (
        <>
          <DataTable columns={columns} rows={paged.rows} rowKey={(c) => c.name} caption="Credentials" />
          <Pager page={paged.page} pages={paged.pages} onPage={paged.setPage} label="Credential pages" />
        </>
      )}
    </section>
  );
}
