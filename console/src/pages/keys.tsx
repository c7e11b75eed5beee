import { useState } from "preact/hooks";
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
} from "../components/ui";
import { api } from "../lib/api";
import { type Session, setSession, useSession } from "../lib/session";
import { useData } from "../lib/use-data";

/** GET /v1/keys (workers/db/queries/api-keys.ts). */
interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

// Key policies (limits, budgets, allowed models, guardrails; issues 13 and 14) add a column here
// and an editor that PATCHes /console/api/keys/:id.
function columns(session: Session | null, revoke: (key: ApiKey) => void, busy: boolean): Column<ApiKey>[] {
  return [
    {
      label: "Name",
      render: (k) => (
        <>
          {k.name}
          {k.id === session?.key?.id && <span class="badge">this session</span>}
        </>
      ),
      class: "wrap",
    },
    { label: "Key", render: (k) => <code>{k.prefix}</code> },
    { label: "Created", render: (k) => <Time iso={k.createdAt} /> },
    {
      label: "Last used",
      render: (k) => (k.lastUsedAt ? <Time iso={k.lastUsedAt} /> : <span class="muted">never</span>),
    },
    {
      label: "Status",
      render: (k) =>
        k.revokedAt ? (
          <span class="status bad" title={k.revokedAt}>
            revoked
          </span>
        ) : (
          <span class="status ok">active</span>
        ),
    },
    {
      label: "",
      render: (k) =>
        !k.revokedAt && (
          <button type="button" class="button small danger" disabled={busy} onClick={() => revoke(k)}>
            Revoke<span class="visually-hidden"> {k.name}</span>
          </button>
        ),
      class: "actions",
    },
  ];
}

export default function Keys() {
  const session = useSession();
  const list = useData(() => api<{ keys: ApiKey[] }>("/keys"));
  const paged = usePaged(list.data?.keys);
  const [name, setName] = useState("");
  const [created, setCreated] = useState<{ apiKey: string; key: ApiKey } | null>(null);
  const create = useAction();
  const change = useAction();

  const submit = async (e: SubmitHandler) => {
    e.preventDefault();
    const res = await create.run(() =>
      api<{ apiKey: string; key: ApiKey }>("/keys", {
        method: "POST",
        body: name.trim() ? { name: name.trim() } : {},
      }),
    );
    if (res) {
      setCreated(res);
      setName("");
      paged.setPage(0);
      list.reload();
    }
  };

  const revoke = async (key: ApiKey) => {
    const own = key.id === session?.key?.id;
    const question = own
      ? `"${key.name}" is the key this session signed in with. Revoking it signs you out. Revoke it?`
      : `Revoke "${key.name}" (${key.prefix})? Clients using it stop working within seconds.`;
    if (!window.confirm(question)) return;
    const done = await change.run(() =>
      api(`/keys/${encodeURIComponent(key.id)}`, { method: "DELETE", query: own ? { force: "true" } : {} }),
    );
    if (done && own) setSession(null, "You revoked the key this session used; sign in with another.");
    else if (done) list.reload();
  };

  return (
    <section>
      <PageHeader title="API keys">
        Keys authenticate clients of this tenant. relay stores only a hash: a new key is shown once.
      </PageHeader>

      {created ? (
        <SecretOnce
          title={`Key "${created.key.name}" created`}
          secret={created.apiKey}
          onDone={() => setCreated(null)}
        >
          <p>Use it as the API key of any OpenAI or Anthropic SDK, with relay as the base URL:</p>
          <CodeBlock code={`OPENAI_BASE_URL=${location.origin}/v1\nOPENAI_API_KEY=${created.apiKey}`} />
        </SecretOnce>
      ) : (
        <form class="card inline-form" onSubmit={submit}>
          <Field
            label="New key name"
            hint="For you to recognise it later, e.g. the app or person that uses it."
          >
            <input
              value={name}
              maxLength={120}
              onInput={(e) => setName(e.currentTarget.value)}
              placeholder="ci runner"
            />
          </Field>
          <button type="submit" class="button primary" disabled={create.busy}>
            {create.busy ? "Creating…" : "Create key"}
          </button>
          <ErrorNote error={create.error} />
        </form>
      )}

      <ErrorNote error={change.error ?? list.error} />
      {list.loading && !list.data ? (
        <Loading what="keys" />
      ) : paged.total === 0 ? (
        <Empty title="No keys">
          <p>Create one above.</p>
        </Empty>
      ) : (
        <>
          <DataTable
            columns={columns(session, revoke, change.busy)}
            rows={paged.rows}
            rowKey={(k) => k.id}
            caption="API keys"
          />
          <Pager page={paged.page} pages={paged.pages} onPage={paged.setPage} label="Key pages" />
        </>
      )}
    </section>
  );
}
