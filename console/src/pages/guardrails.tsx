import {
  type Column,
  DataTable,
  Empty,
  ErrorNote,
  JsonBlock,
  Loading,
  PageHeader,
  Pager,
  usePaged,
} from "../components/ui";
import { api } from "../lib/api";
import { FAILURE_POLICY_TEXT, MODE_TEXT } from "../lib/guardrails";
import { useSession } from "../lib/session";
import { useData } from "../lib/use-data";

/** GET /v1/guardrails (workers/guardrails/routes.ts): what the caller's key may use. */
interface Offered {
  name: string;
  description: string;
  modes: (keyof typeof MODE_TEXT)[];
  defaultOn: boolean;
  failurePolicy: keyof typeof FAILURE_POLICY_TEXT;
  configSchema: Record<string, unknown> | null;
  applies: "default" | "mandatory" | "on_request";
}

const APPLIES: Record<Offered["applies"], string> = {
  default: "always (on by default)",
  mandatory: "always (your key requires it)",
  on_request: "when a request asks for it",
};

const columns: Column<Offered>[] = [
  {
    label: "Guardrail",
    render: (g) => (
      <>
        <code>{g.name}</code>
        {g.description && <div class="muted small">{g.description}</div>}
      </>
    ),
    class: "wrap",
  },
  { label: "Applies", render: (g) => APPLIES[g.applies] },
  { label: "Checks", render: (g) => g.modes.map((m) => MODE_TEXT[m]).join(", "), class: "wrap" },
  { label: "If it fails", render: (g) => FAILURE_POLICY_TEXT[g.failurePolicy], class: "wrap" },
  {
    label: "Settings",
    render: (g) =>
      g.configSchema ? (
        <details>
          <summary>
            Schema<span class="visually-hidden"> of {g.name}'s settings</span>
          </summary>
          <JsonBlock value={g.configSchema} label={`Settings schema of ${g.name}`} />
        </details>
      ) : (
        <span class="muted">—</span>
      ),
    class: "wrap",
  },
];

export default function Guardrails() {
  const session = useSession();
  const list = useData(() => api<{ guardrails: Offered[] }>("/guardrails"));
  const paged = usePaged(list.data?.guardrails);
  return (
    <section>
      <PageHeader title="Guardrails">
        Checks the operator runs on requests and answers (PII redaction, their own services), as they apply to
        the key this session signed in with{session?.key ? ` (${session.key.prefix})` : ""}.
      </PageHeader>
      <ErrorNote error={list.error} />
      {list.loading && !list.data ? (
        <Loading what="guardrails" />
      ) : paged.total === 0 ? (
        <Empty title="No guardrails for this key">
          <p>
            The operator has turned none on for every key, and this key's policy names none. Guardrails are
            set up by the operator of this relay: ask them for the ones you need (PII redaction is built in).
          </p>
        </Empty>
      ) : (
        <>
          <DataTable columns={columns} rows={paged.rows} rowKey={(g) => g.name} caption="Guardrails" />
          <Pager page={paged.page} pages={paged.pages} onPage={paged.setPage} label="Guardrail pages" />
        </>
      )}
    </section>
  );
}
