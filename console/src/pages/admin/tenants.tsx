import { useState } from "preact/hooks";
import { limitsText, PolicyForm } from "../../components/policy";
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
  SecretOnce,
  type SubmitHandler,
  Time,
  useAction,
  usePaged,
} from "../../components/ui";
import { api } from "../../lib/api";
import { formatInt } from "../../lib/format";
import { LIMIT_FIELD_NAMES, type Policy } from "../../lib/policy";
import { useData } from "../../lib/use-data";

/** GET /admin/tenants (workers/db/queries/tenants.ts). */
interface Tenant {
  id: string;
  name: string;
  createdAt: string;
  activeKeys: number;
  /** Ceilings for each of the tenant's keys (docs/limits.md). */
  limits: Policy;
}

const columns = (edit: (t: Tenant) => void): Column<Tenant>[] => [
  { label: "Name", render: (t) => <strong class="wrap">{t.name}</strong>, class: "wrap" },
  { label: "Id", render: (t) => <code class="wrap">{t.id}</code>, class: "wrap" },
  { label: "Active keys", render: (t) => formatInt(t.activeKeys), class: "num" },
  {
    label: "Limits per key",
    render: (t) => {
      const lines = limitsText(t.limits ?? {});
      return lines.length ? (
        <div data-testid="tenant-limits">
          {lines.map((line) => (
            <div key={line}>{line}</div>
          ))}
        </div>
      ) : (
        <span class="muted">none</span>
      );
    },
    class: "wrap",
  },
  { label: "Created", render: (t) => <Time iso={t.createdAt} /> },
  {
    label: "",
    render: (t) => (
      <button type="button" class="button small" onClick={() => edit(t)}>
        Edit limits<span class="visually-hidden"> of {t.name}</span>
      </button>
    ),
    class: "actions",
  },
];

export default function Tenants() {
  const list = useData(() => api<{ tenants: Tenant[] }>("/admin/tenants"));
  const paged = usePaged(list.data?.tenants);
  const [name, setName] = useState("");
  const [keyName, setKeyName] = useState("");
  const [created, setCreated] = useState<{ tenant: Tenant; apiKey: string } | null>(null);
  const create = useAction();
  const [editing, setEditing] = useState<Tenant | null>(null);
  const [done, setDone] = useState<string | null>(null);

  const submit = async (e: SubmitHandler) => {
    e.preventDefault();
    const body: Record<string, string> = { name: name.trim() };
    if (keyName.trim()) body.keyName = keyName.trim();
    const res = await create.run(() =>
      api<{ tenant: Tenant; apiKey: string }>("/admin/tenants", { method: "POST", body }),
    );
    if (res) {
      setCreated(res);
      setName("");
      setKeyName("");
      list.reload();
    }
  };

  return (
    <section>
      <PageHeader title="Tenants">Each tenant has its own keys, credentials, usage and audit log.</PageHeader>
      {created ? (
        <SecretOnce
          title={`Tenant "${created.tenant.name}" created`}
          secret={created.apiKey}
          onDone={() => setCreated(null)}
        >
          <p>This is the tenant's first API key. Hand it over; they sign in to this console with it.</p>
          <CodeBlock code={`OPENAI_BASE_URL=${location.origin}/v1\nOPENAI_API_KEY=${created.apiKey}`} />
        </SecretOnce>
      ) : (
        <form class="card" onSubmit={submit}>
          <h2>New tenant</h2>
          <div class="form-grid">
            <Field label="Name" hint="Unique, e.g. the team or customer">
              <input required maxLength={200} value={name} onInput={(e) => setName(e.currentTarget.value)} />
            </Field>
            <Field label="First key's name" hint="Optional (default: default)">
              <input maxLength={120} value={keyName} onInput={(e) => setKeyName(e.currentTarget.value)} />
            </Field>
          </div>
          <ErrorNote error={create.error} />
          <button type="submit" class="button primary" disabled={create.busy}>
            {create.busy ? "Creating…" : "Create tenant"}
          </button>
        </form>
      )}
      {editing && (
        <PolicyForm
          key={editing.id}
          title={`Limits of ${editing.name}`}
          fields={LIMIT_FIELD_NAMES}
          current={editing.limits ?? {}}
          intro={
            <p class="muted small">
              Ceilings for each of the tenant's keys, not for its keys together: a key's effective limit is
              the lower of its own and these, and both model lists must allow a model.
            </p>
          }
          save={(limits) =>
            api(`/admin/tenants/${encodeURIComponent(editing.id)}`, { method: "PATCH", body: { limits } })
          }
          onSaved={() => {
            setDone(`Saved the limits of "${editing.name}".`);
            setEditing(null);
            list.reload();
          }}
          onCancel={() => setEditing(null)}
        />
      )}
      {done && (
        <p class="note success" role="status">
          {done}
        </p>
      )}
      <ErrorNote error={list.error} />
      {list.loading && !list.data ? (
        <Loading what="tenants" />
      ) : paged.total === 0 ? (
        <Empty title="No tenants yet">
          <p>Create one above, or from a terminal:</p>
          <CodeBlock code="npm run bootstrap -- --tenant acme" />
        </Empty>
      ) : (
        <>
          <DataTable
            columns={columns((t) => {
              setDone(null);
              setEditing(t);
            })}
            rows={paged.rows}
            rowKey={(t) => t.id}
            caption="Tenants"
          />
          <Pager page={paged.page} pages={paged.pages} onPage={paged.setPage} label="Tenant pages" />
        </>
      )}
    </section>
  );
}
