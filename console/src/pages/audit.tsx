import { useState } from "preact/hooks";
import {
  type Column,
  DataTable,
  Empty,
  ErrorNote,
  Field,
  Loading,
  PageHeader,
  Pager,
  Time,
} from "../components/ui";
import { api } from "../lib/api";
import { useData } from "../lib/use-data";

/** GET /v1/audit (workers/db/queries/audit.ts). */
interface AuditEvent {
  id: string;
  actor: string;
  action: string;
  targetType: string;
  targetId: string;
  metadata: Record<string, unknown>;
  requestId: string | null;
  ipAddress: string | null;
  userAgent: string | null;
  createdAt: string;
}

const KNOWN_ACTIONS = [
  "tenant.created",
  "api_key.created",
  "api_key.revoked",
  "credential.created",
  "credential.updated",
  "credential.deleted",
  "master_key.rotated",
  "console.signed_in",
  "console.signed_out",
];

const PAGE = 25;

function details(e: AuditEvent): string {
  return Object.entries(e.metadata)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(", ");
}

const columns: Column<AuditEvent>[] = [
  { label: "When", render: (e) => <Time iso={e.createdAt} /> },
  { label: "Action", render: (e) => <code>{e.action}</code> },
  { label: "Actor", render: (e) => <code class="wrap">{e.actor}</code>, class: "wrap" },
  {
    label: "Target",
    render: (e) => (
      <span class="wrap">
        {e.targetType} <code>{e.targetId}</code>
      </span>
    ),
    class: "wrap",
  },
  { label: "Details", render: (e) => details(e) || <span class="muted">—</span>, class: "wrap" },
  {
    label: "From",
    render: (e) => (
      <span class="muted small wrap" title={e.userAgent ?? undefined}>
        {e.ipAddress ?? "—"}
        {e.requestId && <div>{e.requestId}</div>}
      </span>
    ),
    class: "wrap",
  },
];

export default function Audit() {
  const [action, setAction] = useState("");
  // The cursor each page starts from: the API pages from (time, id), newest first.
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const [page, setPage] = useState(0);
  const { data, error, loading } = useData(
    () =>
      api<{ events: AuditEvent[]; nextCursor: string | null }>("/audit", {
        query: { limit: PAGE, action: action || undefined, cursor: cursors[page] },
      }),
    [action, page],
  );

  const goTo = (next: number) => {
    if (next > page && data?.nextCursor)
      setCursors((c) => [...c.slice(0, next), data.nextCursor ?? undefined]);
    setPage(next);
  };

  return (
    <section>
      <PageHeader title="Audit log">
        Every change to this tenant's keys and credentials, and console sign-ins.
      </PageHeader>
      <div class="toolbar">
        <Field label="Action">
          <input
            list="audit-actions"
            value={action}
            onChange={(e) => {
              setAction(e.currentTarget.value.trim());
              setCursors([undefined]);
              setPage(0);
            }}
            placeholder="all actions"
          />
        </Field>
        <datalist id="audit-actions">
          {KNOWN_ACTIONS.map((a) => (
            <option key={a} value={a} />
          ))}
        </datalist>
      </div>
      <ErrorNote error={error} />
      {loading && !data ? (
        <Loading what="events" />
      ) : (data?.events.length ?? 0) === 0 ? (
        <Empty title={action ? `No ${action} events` : "No events yet"}>
          <p>Creating or revoking a key, or adding a credential, writes one.</p>
        </Empty>
      ) : (
        <>
          <DataTable
            columns={columns}
            rows={data?.events ?? []}
            rowKey={(e) => e.id}
            caption="Audit events"
          />
          <Pager page={page} hasNext={Boolean(data?.nextCursor)} onPage={goTo} label="Audit pages" />
        </>
      )}
    </section>
  );
}
