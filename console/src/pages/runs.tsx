import { useEffect, useState } from "preact/hooks";
import { RunStatusBadge } from "../components/run-status";
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
  Time,
} from "../components/ui";
import { api } from "../lib/api";
import { formatInt, formatMs, formatUsd } from "../lib/format";
import { inputSummary, RUN_STATUSES, type Run, type RunStatus, shortId } from "../lib/runs";
import { useData } from "../lib/use-data";

const PAGE = 20;
const POLL_MS = 3000;

const columns: Column<Run>[] = [
  {
    label: "Run",
    render: (r) => (
      <>
        <a href={`/console/runs/${r.id}`}>{inputSummary(r.input) || shortId(r.id)}</a>
        <div class="muted small">
          <code>{shortId(r.id)}</code>
          {r.parentRunId && (
            <>
              {" "}
              · child of <a href={`/console/runs/${r.parentRunId}`}>{shortId(r.parentRunId)}</a>
            </>
          )}
        </div>
      </>
    ),
    class: "wrap",
  },
  { label: "Status", render: (r) => <RunStatusBadge status={r.status} /> },
  { label: "Model", render: (r) => <code class="model">{r.model}</code> },
  { label: "Started", render: (r) => <Time iso={r.createdAt} /> },
  {
    label: "Duration",
    render: (r) => (r.durationMs === null ? <span class="muted">—</span> : formatMs(r.durationMs)),
    class: "num",
  },
  {
    label: "Tokens in / out",
    // A run's usage is added up when it ends.
    render: (r) =>
      r.status === "running" ? (
        <span class="muted">—</span>
      ) : (
        `${formatInt(r.usage.input_tokens)} / ${formatInt(r.usage.output_tokens)}`
      ),
    class: "num",
  },
  { label: "Cost", render: (r) => formatUsd(r.costUsd), class: "num" },
];

/** How to start a first run: the SDK (tools in your process) or curl (a builtin tool). */
function FirstRun() {
  const origin = location.origin;
  return (
    <>
      <p>
        An agent run is a tool loop relay runs for you: it calls the model, sends each tool call to your own
        process and feeds the results back. With the SDK (<code>npm install @relay/sdk zod</code>):
      </p>
      <CodeBlock
        code={`// RELAY_URL=${origin} RELAY_API_KEY=relay_live_… npx tsx agent.ts
import { createAgent } from "@relay/sdk";
import { z } from "zod";

const agent = createAgent({
  model: "claude-sonnet-4-6",
  tools: {
    getWeather: {
      description: "Current weather in a city",
      inputSchema: z.object({ city: z.string() }),
      handler: async ({ city }) => ({ city, sky: "sunny" }),
    },
  },
});
for await (const event of agent.run("Weather in Paris?")) console.log(event);`}
      />
      <p>Or with curl, using the calculator relay runs itself:</p>
      <CodeBlock
        code={`curl -N ${origin}/v1/runs \\
  -H "authorization: Bearer $RELAY_KEY" -H 'content-type: application/json' \\
  -d '{"model":"claude-sonnet-4-6","input":"What is 6 times 7?","tools":[{"kind":"builtin","name":"calculator"}]}'`}
      />
    </>
  );
}

export default function Runs() {
  const [status, setStatus] = useState<RunStatus | "">("");
  const [rootsOnly, setRootsOnly] = useState(false);
  // The API pages by start time, newest first: each page starts before the last run of the one before.
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const [page, setPage] = useState(0);
  const list = useData(
    () =>
      api<{ runs: Run[] }>("/runs", {
        // One more than a page says whether there is a next one.
        query: {
          status: status || undefined,
          roots: rootsOnly ? "true" : undefined,
          before: cursors[page],
          limit: PAGE + 1,
        },
      }),
    [status, rootsOnly, page],
  );
  const rows = list.data?.runs.slice(0, PAGE) ?? [];
  const hasNext = (list.data?.runs.length ?? 0) > PAGE;

  // Running runs change on their own: their rows are read again until they end.
  const running = rows.some((r) => r.status === "running");
  useEffect(() => {
    if (!running) return;
    const timer = setInterval(list.reload, POLL_MS);
    return () => clearInterval(timer);
  }, [running, list.reload]);

  const restart = () => {
    setCursors([undefined]);
    setPage(0);
  };
  const goTo = (next: number) => {
    const last = rows.at(-1);
    if (next > page && last) setCursors((c) => [...c.slice(0, next), last.createdAt]);
    setPage(next);
  };

  const filtered = status !== "" || rootsOnly;
  return (
    <section>
      <PageHeader title="Runs">
        Agent runs of this tenant, newest first: open one for its timeline, usage and cost.
      </PageHeader>
      <div class="toolbar">
        <Field label="Status">
          <select
            value={status}
            onChange={(e) => {
              setStatus(e.currentTarget.value as RunStatus | "");
              restart();
            }}
          >
            <option value="">all</option>
            {RUN_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </Field>
        <label class="check">
          <input
            type="checkbox"
            checked={rootsOnly}
            onChange={(e) => {
              setRootsOnly(e.currentTarget.checked);
              restart();
            }}
          />
          Top-level runs only (no workflow children)
        </label>
      </div>
      <ErrorNote error={list.error} />
      {list.loading && !list.data ? (
        <Loading what="runs" />
      ) : rows.length === 0 ? (
        filtered || page > 0 ? (
          <Empty title={status ? `No ${status} runs` : "No runs here"}>
            <p>Choose another status, or show all runs.</p>
          </Empty>
        ) : (
          <Empty title="No runs yet">
            <FirstRun />
          </Empty>
        )
      ) : (
        <>
          <DataTable columns={columns} rows={rows} rowKey={(r) => r.id} caption="Agent runs" />
          <Pager page={page} hasNext={hasNext} onPage={goTo} label="Run pages" />
        </>
      )}
    </section>
  );
}
