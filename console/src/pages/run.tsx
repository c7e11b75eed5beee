import type { ComponentChildren } from "preact";
import { useRoute } from "preact-iso";
import { RunStatusBadge } from "../components/run-status";
import { CopyButton, ErrorNote, JsonBlock, Loading, Time } from "../components/ui";
import { api } from "../lib/api";
import { formatDateTime, formatInt, formatMs, formatUsd } from "../lib/format";
import { inputSummary, type Run, shortId, type TimelineItem } from "../lib/runs";
import { useData } from "../lib/use-data";
import { useRunFollow } from "../lib/use-run";

/** GET /v1/workflows/:id: the runs of one workflow, oldest first, with their depth. */
interface Workflow {
  workflowId: string;
  runs: (Run & { depth: number })[];
  cost: { runCount: number; inputTokens: number; outputTokens: number; costUsd: number | null };
}

/** When an event was stored, from the run's start. */
function Offset(props: { at: string | undefined; start: string }) {
  if (!props.at) return <span class="when muted">live</span>;
  const ms = new Date(props.at).getTime() - new Date(props.start).getTime();
  return (
    <time class="when muted" dateTime={props.at} title={formatDateTime(props.at)}>
      +{formatMs(Math.max(0, ms))}
    </time>
  );
}

function Event(props: {
  item: TimelineItem;
  run: Run;
  names: Map<string, string>;
  answered: Set<string>;
  /** The run may still answer its calls. */
  open: boolean;
}) {
  const { item, run } = props;
  const head = (title: ComponentChildren) => (
    <div class="event-head">
      <h3>{title}</h3>
      <Offset at={item.at} start={run.createdAt} />
    </div>
  );
  switch (item.kind) {
    case "text":
      return (
        <li class="event text" data-kind="text">
          {head("Model")}
          <p class="pre-wrap">{item.text}</p>
        </li>
      );
    case "tool_call": {
      const waiting = !props.answered.has(item.id);
      return (
        <li class="event call" data-kind="tool_call" data-tool-call={item.id}>
          {head(
            <>
              Tool call <code>{item.name}</code>
            </>,
          )}
          <p class="muted small">
            <code>{item.id}</code>
            {waiting &&
              (props.open ? (
                <span class="status live"> · waiting for its result</span>
              ) : (
                <span class="status bad"> · never answered</span>
              ))}
          </p>
          <JsonBlock value={item.input} label={`Arguments of ${item.name}`} />
        </li>
      );
    }
    case "tool_result": {
      const name = props.names.get(item.id) ?? "a tool";
      return (
        <li class="event result" data-kind="tool_result" data-tool-result={item.id}>
          {head(
            <>
              Result of <code>{name}</code>
            </>,
          )}
          <p class="muted small">
            <code>{item.id}</code>
          </p>
          <JsonBlock value={item.output} label={`Result of ${name}`} />
        </li>
      );
    }
    case "done":
      return (
        <li class="event done" data-kind="done">
          {head("Done")}
          <p>
            {formatInt(item.usage.input_tokens)} input and {formatInt(item.usage.output_tokens)} output tokens
            in all.
          </p>
        </li>
      );
    case "error":
      return (
        <li class="event failed" data-kind="error">
          {head(
            <>
              Failed: <code>{item.code}</code>
            </>,
          )}
          <p class="pre-line">{item.message}</p>
        </li>
      );
  }
}

function WorkflowTree(props: { run: Run; reloadKey: string }) {
  const { run } = props;
  const wf = useData(
    () => api<Workflow>(`/workflows/${encodeURIComponent(run.workflowId)}`),
    [run.workflowId, props.reloadKey],
  );
  if (wf.error) return <ErrorNote error={wf.error} />;
  const runs = wf.data?.runs ?? [];
  if (runs.length < 2) return null;
  const ids = new Set(runs.map((r) => r.id));
  const children = new Map<string, typeof runs>();
  for (const r of runs) {
    const parent = r.parentRunId && ids.has(r.parentRunId) ? r.parentRunId : "";
    children.set(parent, [...(children.get(parent) ?? []), r]);
  }
  const branch = (parent: string) => (
    <ul class="branch">
      {(children.get(parent) ?? []).map((r) => (
        <li key={r.id}>
          <div class="node">
            {r.id === run.id ? (
              <strong aria-current="page">{inputSummary(r.input, 60) || shortId(r.id)}</strong>
            ) : (
              <a href={`/console/runs/${r.id}`}>{inputSummary(r.input, 60) || shortId(r.id)}</a>
            )}{" "}
            <RunStatusBadge status={r.status} />
            <span class="muted small">
              {" "}
              <code class="model">{r.model}</code> · {formatUsd(r.costUsd)}
            </span>
          </div>
          {children.has(r.id) && branch(r.id)}
        </li>
      ))}
    </ul>
  );
  const cost = wf.data?.cost;
  return (
    <section class="card" aria-labelledby="workflow-title">
      <h2 id="workflow-title">Workflow</h2>
      {cost && (
        <p class="muted">
          {formatInt(cost.runCount)} runs · {formatInt(cost.inputTokens)} input and{" "}
          {formatInt(cost.outputTokens)} output tokens · {formatUsd(cost.costUsd)}
        </p>
      )}
      <div class="tree">{branch("")}</div>
    </section>
  );
}

function RunInput(props: { run: Run }) {
  const { run } = props;
  return (
    <section class="card" aria-labelledby="input-title">
      <h2 id="input-title">Input</h2>
      {run.system && (
        <>
          <h3>System</h3>
          <p class="pre-wrap">{run.system}</p>
        </>
      )}
      <h3>{typeof run.input === "string" ? "Prompt" : "Messages"}</h3>
      {typeof run.input === "string" ? (
        <p class="pre-wrap">{run.input}</p>
      ) : (
        <ol class="messages">
          {run.input.map((m, i) => (
            <li key={i}>
              <span class="muted small">{m.role}</span>
              <p class="pre-wrap">{m.content}</p>
            </li>
          ))}
        </ol>
      )}
      <h3>Tools</h3>
      {run.tools.length === 0 ? (
        <p class="muted">none</p>
      ) : (
        <ul class="plain">
          {run.tools.map((t) => (
            <li key={t.name}>
              <code>{t.name}</code>{" "}
              <span class="muted small">{t.kind === "builtin" ? "runs in relay" : ""}</span>
              {t.description && <div class="muted small">{t.description}</div>}
            </li>
          ))}
        </ul>
      )}
      {Object.keys(run.metadata).length > 0 && (
        <>
          <h3>Metadata</h3>
          <dl class="pairs">
            {Object.entries(run.metadata).map(([k, v]) => (
              <div key={k}>
                <dt>{k}</dt>
                <dd>{v}</dd>
              </div>
            ))}
          </dl>
        </>
      )}
    </section>
  );
}

export default function RunPage() {
  const { params } = useRoute();
  const id = params.id as string;
  const { run, timeline, live, error } = useRunFollow(id);

  const names = new Map<string, string>();
  const answered = new Set<string>();
  for (const item of timeline) {
    if (item.kind === "tool_call") names.set(item.id, item.name);
    if (item.kind === "tool_result") answered.add(item.id);
  }
  // The run's row has its usage, model calls and cost once it has ended.
  const ended = run !== undefined && run.status !== "running";
  const waitingFor = timeline.filter((i) => i.kind === "tool_call" && !answered.has(i.id));

  return (
    <section>
      <p class="crumbs">
        <a href="/console/runs">← Runs</a>
      </p>
      <header class="page-header">
        <h1>
          Run <code title={id}>{shortId(id)}</code>
        </h1>
        {run && <p class="muted wrap">{inputSummary(run.input, 160)}</p>}
        <p class="muted small run-id">
          <code>{id}</code> <CopyButton text={id} label="Copy id" />
        </p>
      </header>
      <ErrorNote error={error} />
      {!run ? (
        !error && <Loading what="the run" />
      ) : (
        <>
          {run.error && (
            <div class="note error">
              <p>
                <code>{run.error.code}</code>: {run.error.message}
              </p>
            </div>
          )}
          <dl class="figures card">
            <div>
              <dt>Status</dt>
              <dd data-testid="run-status">
                <RunStatusBadge status={run.status} />
              </dd>
            </div>
            <div>
              <dt>Model</dt>
              <dd>
                <code>{run.model}</code>
              </dd>
            </div>
            <div>
              <dt>Started</dt>
              <dd>
                <Time iso={run.createdAt} />
              </dd>
            </div>
            <div>
              <dt>Duration</dt>
              <dd>{run.durationMs === null ? "—" : formatMs(run.durationMs)}</dd>
            </div>
            <div>
              <dt>Model calls</dt>
              <dd>{ended ? formatInt(run.iterations) : "—"}</dd>
            </div>
            <div>
              <dt>Tokens in / out</dt>
              <dd data-testid="run-tokens">
                {ended
                  ? `${formatInt(run.usage.input_tokens)} / ${formatInt(run.usage.output_tokens)}`
                  : "counted at the end"}
              </dd>
            </div>
            <div>
              <dt>Cost</dt>
              <dd data-testid="run-cost">{formatUsd(run.costUsd)}</dd>
            </div>
            {run.parentRunId && (
              <div>
                <dt>Parent run</dt>
                <dd>
                  <a href={`/console/runs/${run.parentRunId}`}>{shortId(run.parentRunId)}</a>
                </dd>
              </div>
            )}
          </dl>
          <div class="grid">
            <RunInput run={run} />
            <WorkflowTree run={run} reloadKey={run.status} />
          </div>
          <section class="card" aria-labelledby="timeline-title">
            <div class="card-title">
              <h2 id="timeline-title">Timeline</h2>
              <p class="muted small" role="status" data-testid="live">
                {live
                  ? waitingFor.length > 0
                    ? `Live: waiting for ${waitingFor.length === 1 ? "a tool result" : `${waitingFor.length} tool results`}`
                    : "Live"
                  : ""}
              </p>
            </div>
            {timeline.length === 0 ? (
              <p class="muted">
                {live ? "Nothing yet: the model is on its first call." : "No events stored."}
              </p>
            ) : (
              <ol class="timeline">
                {timeline.map((item) => (
                  <Event
                    key={item.seq}
                    item={item}
                    run={run}
                    names={names}
                    answered={answered}
                    open={live || run.status === "running"}
                  />
                ))}
              </ol>
            )}
          </section>
        </>
      )}
    </section>
  );
}
