import { useState } from "preact/hooks";
import { LimitMeters, limitsText, PolicyForm } from "../components/policy";
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
import { KEY_POLICY_FIELD_NAMES, type LimitStatus, type Policy, summary } from "../lib/policy";
import { type Session, setSession, useSession } from "../lib/session";
import { useData } from "../lib/use-data";

/** GET /v1/keys (workers/keys/routes.ts): each key with its policy and where it stands now. */
interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
  policy: Policy;
  /** Null for a revoked key, or one neither it nor its tenant limits. */
  limits: LimitStatus | null;
}

function columns(
  session: Session | null,
  revoke: (key: ApiKey) => void,
  edit: (key: ApiKey) => void,
  busy: boolean,
): Column<ApiKey>[] {
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
      label: "Limits now",
      render: (k) =>
        k.revokedAt ? (
          <span class="muted">—</span>
        ) : (
          <>
            <LimitMeters status={k.limits} />
            {summary(k.policy).map((line) => (
              <div key={line} class="muted small wrap">
                {line}
              </div>
            ))}
          </>
        ),
      class: "wrap limits",
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
          <div class="row-actions">
            <button type="button" class="button small" onClick={() => edit(k)}>
              Edit policy<span class="visually-hidden"> of {k.name}</span>
            </button>
            <button type="button" class="button small danger" disabled={busy} onClick={() => revoke(k)}>
              Revoke<span class="visually-hidden"> {k.name}</span>
            </button>
          </div>
        ),
      class: "actions",
    },
  ];
}

export default function Keys() {
  const session = useSession();
  const list = useData(() => api<{ keys: ApiKey[]; tenantLimits: Policy }>("/keys"));
  const paged = usePaged(list.data?.keys);
  const [name, setName] = useState("");
  const [created, setCreated] = useState<{ apiKey: string; key: ApiKey } | null>(null);
  const create = useAction();
  const change = useAction();
  const [editing, setEditing] = useState<ApiKey | null>(null);
  const [done, setDone] = useState<string | null>(null);
  // The guardrails this session's key may name, as suggestions while a policy is edited.
  const guardrails = useData(
    () => (editing ? api<{ guardrails: { name: string }[] }>("/guardrails") : Promise.resolve(undefined)),
    [editing !== null],
  );
  const ceilings = limitsText(list.data?.tenantLimits ?? {});

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

      {editing && (
        <PolicyForm
          key={editing.id}
          title={`Policy of ${editing.name}`}
          fields={KEY_POLICY_FIELD_NAMES}
          current={editing.policy}
          guardrailNames={guardrails.data?.guardrails.map((g) => g.name)}
          intro={
            <>
              <p class="muted small">
                Limits apply to <code>{editing.prefix}</code> alone; a key with a policy cannot manage other
                keys. Changes hold within seconds.
              </p>
              {editing.id === session?.key?.id && (
                <p class="note warn">
                  This session signed in with this key: once it has a policy, this session can no longer
                  create, change or revoke other keys.
                </p>
              )}
            </>
          }
          save={(policy) =>
            api(`/keys/${encodeURIComponent(editing.id)}`, { method: "PATCH", body: { policy } })
          }
          onSaved={() => {
            setDone(`Saved the policy of "${editing.name}".`);
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
      {ceilings.length > 0 && (
        <p class="muted" data-testid="tenant-limits">
          Your operator's ceilings for every key: {ceilings.join(" · ")}
        </p>
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
            columns={columns(
              session,
              revoke,
              (k) => {
                setDone(null);
                setEditing(k);
              },
              change.busy,
            )}
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
