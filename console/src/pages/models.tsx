import { useMemo, useState } from "preact/hooks";
import {
  type Column,
  DataTable,
  Empty,
  ErrorNote,
  Field,
  Loading,
  PageHeader,
  Pager,
  usePaged,
} from "../components/ui";
import { api } from "../lib/api";
import { formatInt } from "../lib/format";
import { useData } from "../lib/use-data";

/** GET /v1/models (workers/gateway/models.ts): named as a request names them. */
interface Model {
  id: string;
  owned_by: string;
  context_length?: number;
}

function route(m: Model): string {
  if (m.owned_by === "cloud") return "operator cloud model";
  if (m.owned_by === "local") return "local model (sidecar)";
  return `credential "${m.owned_by}"`;
}

const columns: Column<Model>[] = [
  { label: "Model", render: (m) => <code>{m.id}</code>, class: "wrap" },
  { label: "Route", render: route },
  {
    label: "Context",
    render: (m) =>
      m.context_length ? `${formatInt(m.context_length)} tokens` : <span class="muted">unknown</span>,
    class: "num",
  },
];

export default function Models() {
  const { data, error, loading } = useData(() => api<{ data: Model[] }>("/models"));
  const [filter, setFilter] = useState("");
  const shown = useMemo(() => {
    const needle = filter.trim().toLowerCase();
    return (data?.data ?? []).filter(
      (m) => !needle || m.id.toLowerCase().includes(needle) || m.owned_by.includes(needle),
    );
  }, [data, filter]);
  const paged = usePaged(shown);

  return (
    <section>
      <PageHeader title="Models">
        Every model this tenant can reach, named as a request names it, and the route relay takes to it.
      </PageHeader>
      <ErrorNote error={error} />
      {loading && !data ? (
        <Loading what="models (asking each provider)" />
      ) : (data?.data.length ?? 0) === 0 ? (
        <Empty title="No models reachable yet">
          <p>
            Models come from your <a href="/console/credentials">provider credentials</a> (each provider's own
            list), the operator's cloud models and local models.
          </p>
        </Empty>
      ) : (
        <>
          <div class="toolbar">
            <Field label="Filter">
              <input
                type="search"
                value={filter}
                onInput={(e) => {
                  setFilter(e.currentTarget.value);
                  paged.setPage(0);
                }}
                placeholder="claude, groq, local…"
              />
            </Field>
            <p class="muted">
              {formatInt(shown.length)} of {formatInt(data?.data.length ?? 0)}
            </p>
          </div>
          <DataTable columns={columns} rows={paged.rows} rowKey={(m) => m.id} caption="Reachable models" />
          <Pager page={paged.page} pages={paged.pages} onPage={paged.setPage} label="Model pages" />
        </>
      )}
    </section>
  );
}
