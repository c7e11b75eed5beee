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
  Time,
} from "../../components/ui";
import { api } from "../../lib/api";
import { formatInt, formatMs } from "../../lib/format";
import {
  ACTIONS,
  type CatalogEntry,
  type GuardrailAction,
  type GuardrailMode,
  MODE_TEXT,
} from "../../lib/guardrails";
import { useData } from "../../lib/use-data";

/** GET /admin/guardrails/executions: one run of one guardrail, what it did and never what it saw. */
interface Execution {
  id: string;
  requestId: string;
  tenantId: string;
  keyId: string | null;
  runId: string | null;
  guardrail: string;
  mode: GuardrailMode;
  action: GuardrailAction;
  failurePolicy: string;
  latencyMs: number;
  reason: string | null;
  metadata: Record<string, unknown>;
  createdAt: string;
}

/** GET /admin/guardrails/summary: counts per guardrail, mode and action. */
interface SummaryRow {
  guardrail: string;
  mode: GuardrailMode;
  action: GuardrailAction;
  count: number;
  avgLatencyMs: number;
}

interface Line {
  guardrail: string;
  mode: GuardrailMode;
  total: number;
  counts: Record<GuardrailAction, number>;
  avgLatencyMs: number;
}

const PERIODS = { "1": "24 hours", "7": "7 days", "30": "30 days", all: "all time" } as const;
type Period = keyof typeof PERIODS;
const PAGE = 25;

const ACTION_TONE: Record<GuardrailAction, string> = {
  allow: "ok",
  block: "bad",
  modify: "warn",
  warn: "warn",
};

function since(period: Period): string | undefined {
  return period === "all" ? undefined : new Date(Date.now() - Number(period) * 86_400_000).toISOString();
}

/** The summary's rows folded into one line per guardrail and mode. */
function linesOf(rows: SummaryRow[]): Line[] {
  const lines = new Map<string, Line & { latencySum: number }>();
  for (const r of rows) {
    const key = `${r.guardrail}\0${r.mode}`;
    const line = lines.get(key) ?? {
      guardrail: r.guardrail,
      mode: r.mode,
      total: 0,
      counts: { allow: 0, block: 0, modify: 0, warn: 0 },
      avgLatencyMs: 0,
      latencySum: 0,
    };
    line.total += r.count;
    line.counts[r.action] += r.count;
    line.latencySum += r.avgLatencyMs * r.count;
    line.avgLatencyMs = line.latencySum / line.total;
    lines.set(key, line);
  }
  const order = (m: GuardrailMode) => ["pre_call", "during_call", "post_call"].indexOf(m);
  return [...lines.values()].sort(
    (a, b) => a.guardrail.localeCompare(b.guardrail) || order(a.mode) - order(b.mode),
  );
}

function details(metadata: Record<string, unknown>): string {
  return Object.entries(metadata)
    .map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(", ");
}

const summaryColumns: Column<Line>[] = [
  { label: "Guardrail", render: (l) => <code>{l.guardrail}</code>, class: "wrap" },
  { label: "Checks", render: (l) => MODE_TEXT[l.mode] ?? l.mode },
  { label: "Runs", render: (l) => formatInt(l.total), class: "num" },
  ...ACTIONS.map(
    (a): Column<Line> => ({
      label: { allow: "Allowed", block: "Blocked", modify: "Modified", warn: "Warned" }[a],
      render: (l) => formatInt(l.counts[a]),
      class: "num",
    }),
  ),
  { label: "Average latency", render: (l) => formatMs(l.avgLatencyMs), class: "num" },
];

export default function GuardrailActivity() {
  const [period, setPeriod] = useState<Period>("7");
  const [from, setFrom] = useState(() => since("7"));
  const [tenant, setTenant] = useState("");
  const [guardrail, setGuardrail] = useState("");
  const [action, setAction] = useState<GuardrailAction | "">("");
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const [page, setPage] = useState(0);

  const tenants = useData(() => api<{ tenants: { id: string; name: string }[] }>("/admin/tenants"));
  const catalog = useData(() => api<{ guardrails: CatalogEntry[] }>("/admin/guardrails"));
  const tenantNames = useMemo(
    () => new Map((tenants.data?.tenants ?? []).map((t) => [t.id, t.name])),
    [tenants.data],
  );
  const filter = { tenant: tenant || undefined, guardrail: guardrail || undefined, from };
  const summary = useData(
    () => api<{ summary: SummaryRow[] }>("/admin/guardrails/summary", { query: filter }),
    [tenant, guardrail, from],
  );
  const list = useData(
    () =>
      api<{ executions: Execution[] }>("/admin/guardrails/executions", {
        query: { ...filter, action: action || undefined, before: cursors[page], limit: PAGE + 1 },
      }),
    [tenant, guardrail, from, action, page],
  );
  const lines = useMemo(() => linesOf(summary.data?.summary ?? []), [summary.data]);
  const rows = list.data?.executions.slice(0, PAGE) ?? [];
  const hasNext = (list.data?.executions.length ?? 0) > PAGE;

  const restart = () => {
    setCursors([undefined]);
    setPage(0);
  };
  const goTo = (next: number) => {
    const last = rows.at(-1);
    if (next > page && last) setCursors((c) => [...c.slice(0, next), last.createdAt]);
    setPage(next);
  };

  const columns: Column<Execution>[] = [
    { label: "When", render: (e) => <Time iso={e.createdAt} /> },
    {
      label: "Tenant",
      render: (e) => tenantNames.get(e.tenantId) ?? <code class="wrap">{e.tenantId}</code>,
      class: "wrap",
    },
    { label: "Guardrail", render: (e) => <code>{e.guardrail}</code>, class: "wrap" },
    { label: "Checked", render: (e) => MODE_TEXT[e.mode] ?? e.mode },
    {
      label: "Action",
      render: (e) => <span class={`status ${ACTION_TONE[e.action] ?? ""}`}>{e.action}</span>,
    },
    { label: "Latency", render: (e) => formatMs(e.latencyMs), class: "num" },
    {
      label: "Why",
      render: (e) =>
        e.reason || Object.keys(e.metadata).length ? (
          <span class="wrap">
            {e.reason}
            {Object.keys(e.metadata).length > 0 && <div class="muted small">{details(e.metadata)}</div>}
          </span>
        ) : (
          <span class="muted">—</span>
        ),
      class: "wrap",
    },
    {
      label: "Request",
      render: (e) => (
        <span class="muted small wrap">
          {e.requestId}
          {e.runId && <div>run {e.runId}</div>}
        </span>
      ),
      class: "wrap",
    },
  ];

  return (
    <section>
      <PageHeader title="Guardrail activity">
        What guardrails did to requests and answers: counts, actions and latency. Content is never recorded.
      </PageHeader>
      <div class="toolbar">
        <Field label="Period">
          <select
            value={period}
            onChange={(e) => {
              const p = e.currentTarget.value as Period;
              setPeriod(p);
              setFrom(since(p));
              restart();
            }}
          >
            {Object.entries(PERIODS).map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Tenant">
          <select
            value={tenant}
            onChange={(e) => {
              setTenant(e.currentTarget.value);
              restart();
            }}
          >
            <option value="">all tenants</option>
            {(tenants.data?.tenants ?? []).map((t) => (
              <option key={t.id} value={t.id}>
                {t.name}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Guardrail">
          <select
            value={guardrail}
            onChange={(e) => {
              setGuardrail(e.currentTarget.value);
              restart();
            }}
          >
            <option value="">all guardrails</option>
            {(catalog.data?.guardrails ?? []).map((g) => (
              <option key={g.name} value={g.name}>
                {g.name}
              </option>
            ))}
          </select>
        </Field>
      </div>
      <ErrorNote error={summary.error ?? tenants.error ?? catalog.error} />
      <h2>Summary</h2>
      {summary.loading && !summary.data ? (
        <Loading what="the summary" />
      ) : lines.length === 0 ? (
        <Empty title="No guardrail has run in this period">
          <p>
            Each run of a guardrail on a request or an answer is recorded here. Guardrails run when they are
            on by default or a key's policy or a request names them: see{" "}
            <a href="/console/admin/guardrails">Guardrails</a>.
          </p>
        </Empty>
      ) : (
        <DataTable
          columns={summaryColumns}
          rows={lines}
          rowKey={(l) => `${l.guardrail}/${l.mode}`}
          caption="Guardrail runs by guardrail and check"
        />
      )}

      <h2>Executions</h2>
      <div class="toolbar">
        <Field label="Action">
          <select
            value={action}
            onChange={(e) => {
              setAction(e.currentTarget.value as GuardrailAction | "");
              restart();
            }}
          >
            <option value="">all actions</option>
            {ACTIONS.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </Field>
      </div>
      <ErrorNote error={list.error} />
      {list.loading && !list.data ? (
        <Loading what="executions" />
      ) : rows.length === 0 ? (
        <p class="muted">{action ? `No ${action} actions in this period.` : "None in this period."}</p>
      ) : (
        <>
          <DataTable
            columns={columns}
            rows={rows}
            rowKey={(e) => e.id}
            caption="Guardrail executions, newest first"
          />
          <Pager page={page} hasNext={hasNext} onPage={goTo} label="Execution pages" />
        </>
      )}
    </section>
  );
}
