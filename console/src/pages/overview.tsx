import { useMemo } from "preact/hooks";
import { BarChart, type Series } from "../components/bar-chart";
import { CodeBlock, type Column, DataTable, Empty, ErrorNote, Loading, PageHeader } from "../components/ui";
import {
  formatCompact,
  formatDay,
  formatInt,
  formatMinutes,
  formatMs,
  formatPercent,
  formatUsd,
} from "../lib/format";
import { type Usage, type UsageMeasures, type UsageRow, usage } from "../lib/usage";
import { useData } from "../lib/use-data";

const DAY = 86_400_000;

/** Today (since the viewer's midnight), the last 7 and 30 days, and the 30 days by day and by model. */
async function loadOverview() {
  // Chart.js downloads while the numbers are fetched, not after.
  import("../lib/charts").catch(() => {});
  const now = Date.now();
  const midnight = new Date();
  midnight.setHours(0, 0, 0, 0);
  const [today, week, days, models] = await Promise.all([
    usage(midnight, "model"),
    usage(new Date(now - 7 * DAY), "model"),
    usage(new Date(now - 30 * DAY), "day"),
    usage(new Date(now - 30 * DAY), "model"),
  ]);
  return { today, week, days, models };
}

/** Every UTC day of the range, zeros included, so the chart's gaps are days without traffic. */
function fillDays(u: Usage): UsageRow[] {
  const byDay = new Map(u.data.map((r) => [r.day as string, r]));
  const out: UsageRow[] = [];
  const end = new Date(u.to);
  for (let t = Date.parse(`${u.from.slice(0, 10)}T00:00:00Z`); t <= end.getTime(); t += DAY) {
    const day = new Date(t).toISOString().slice(0, 10);
    out.push(
      byDay.get(day) ?? {
        day,
        requests: 0,
        errors: 0,
        input_tokens: 0,
        output_tokens: 0,
        cached_tokens: 0,
        cost_usd: null,
        unpriced_requests: 0,
        latency_ms_avg: null,
        latency_ms_p95: null,
      },
    );
  }
  return out;
}

const METRICS: { label: string; value: (m: UsageMeasures) => string }[] = [
  { label: "Requests", value: (m) => formatCompact(m.requests) },
  { label: "Tokens", value: (m) => formatCompact(m.input_tokens + m.output_tokens) },
  { label: "Cost", value: (m) => formatUsd(m.cost_usd ?? (m.requests ? 0 : null)) },
  { label: "Error rate", value: (m) => (m.requests ? formatPercent(m.errors / m.requests) : "—") },
];

const modelName = (r: UsageRow) => r.model ?? "(no model)";

const slowColumns: Column<UsageRow>[] = [
  { label: "Model", render: (r) => <code>{modelName(r)}</code>, class: "wrap" },
  { label: "p95 latency", render: (r) => formatMs(r.latency_ms_p95), class: "num" },
  { label: "Average", render: (r) => formatMs(r.latency_ms_avg), class: "num" },
  { label: "Requests", render: (r) => formatInt(r.requests), class: "num" },
];

const costColumns: Column<UsageRow>[] = [
  { label: "Model", render: (r) => <code>{modelName(r)}</code>, class: "wrap" },
  { label: "Cost", render: (r) => formatUsd(r.cost_usd), class: "num" },
  { label: "Requests", render: (r) => formatInt(r.requests), class: "num" },
  {
    label: "Per request",
    render: (r) => formatUsd((r.cost_usd ?? 0) / Math.max(1, r.requests)),
    class: "num",
  },
];

export function Overview() {
  const { data, error, loading } = useData(loadOverview);

  const charts = useMemo(() => {
    if (!data) return null;
    const days = fillDays(data.days);
    const byModel = [...data.models.data].sort((a, b) => b.requests - a.requests).slice(0, 8);
    const requestsByDay: Series[] = [
      { label: "Succeeded", data: days.map((d) => d.requests - d.errors), color: "--chart-1" },
      { label: "Failed", data: days.map((d) => d.errors), color: "--chart-error" },
    ];
    const costByDay: Series[] = [
      { label: "Cost", data: days.map((d) => d.cost_usd ?? 0), color: "--chart-2" },
    ];
    const requestsByModel: Series[] = [
      { label: "Requests", data: byModel.map((m) => m.requests), color: "--chart-1" },
    ];
    return {
      dayLabels: days.map((d) => formatDay(d.day as string)),
      requestsByDay,
      costByDay,
      modelLabels: byModel.map(modelName),
      requestsByModel,
      slowest: data.models.data
        .filter((r) => r.latency_ms_p95 !== null)
        .sort((a, b) => (b.latency_ms_p95 ?? 0) - (a.latency_ms_p95 ?? 0))
        .slice(0, 5),
      priciest: data.models.data
        .filter((r) => (r.cost_usd ?? 0) > 0)
        .sort((a, b) => (b.cost_usd ?? 0) - (a.cost_usd ?? 0))
        .slice(0, 5),
    };
  }, [data]);

  if (error) return <ErrorNote error={error} />;
  if (loading && !data) return <Loading what="usage" />;
  if (!data || !charts) return null;
  const periods = [
    { label: "Today", m: data.today.totals },
    { label: "7 days", m: data.week.totals },
    { label: "30 days", m: data.models.totals },
  ];
  const realtime = data.days.realtime.totals;
  const unpriced = data.models.totals.unpriced_requests;

  return (
    <section data-ready="true">
      <PageHeader title="Overview">Traffic through relay, in your time zone; charts by UTC day.</PageHeader>

      <table class="stats">
        <caption class="visually-hidden">Requests, tokens, cost and error rate by period</caption>
        <thead>
          <tr>
            <td />
            {periods.map((p) => (
              <th scope="col" key={p.label}>
                {p.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {METRICS.map((metric) => (
            <tr key={metric.label}>
              <th scope="row">{metric.label}</th>
              {periods.map((p) => (
                <td key={p.label} data-testid={`${metric.label}-${p.label}`}>
                  {metric.value(p.m)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      {unpriced > 0 && (
        <p class="muted small">
          {formatInt(unpriced)} request{unpriced === 1 ? "" : "s"} in 30 days had no price (set{" "}
          <code>RELAY_MODEL_PRICES</code> for their models); their cost is not in these sums.
        </p>
      )}

      {data.models.totals.requests === 0 ? (
        <Empty title="No requests in the last 30 days">
          <p>Point an OpenAI or Anthropic SDK at relay, or try it with curl and one of your keys:</p>
          <CodeBlock
            code={`curl ${location.origin}/v1/chat/completions \\
  -H "authorization: Bearer $RELAY_KEY" -H 'content-type: application/json' \\
  -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}]}'`}
          />
          <p>
            A model needs a provider credential first: see <a href="/console/credentials">Credentials</a>.
          </p>
        </Empty>
      ) : (
        <div class="grid">
          <article class="card">
            <h2>Requests per day</h2>
            <BarChart
              label="Requests per day over the last 30 days, succeeded and failed"
              labels={charts.dayLabels}
              series={charts.requestsByDay}
              stacked
              integer
              format={formatCompact}
            />
          </article>
          <article class="card">
            <h2>Cost per day</h2>
            <BarChart
              label="Cost per day over the last 30 days"
              labels={charts.dayLabels}
              series={charts.costByDay}
              format={formatUsd}
            />
          </article>
          <article class="card">
            <h2>Requests by model</h2>
            <BarChart
              label="Requests by model over the last 30 days"
              labels={charts.modelLabels}
              series={charts.requestsByModel}
              horizontal
              integer
              format={formatCompact}
              height={Math.max(140, 32 * charts.modelLabels.length + 40)}
            />
          </article>
          <article class="card">
            <h2>Slowest models</h2>
            {charts.slowest.length ? (
              <DataTable
                columns={slowColumns}
                rows={charts.slowest}
                rowKey={modelName}
                caption="Slowest models"
              />
            ) : (
              <p class="muted">No successful requests to time yet.</p>
            )}
            <h2>Most expensive models</h2>
            {charts.priciest.length ? (
              <DataTable
                columns={costColumns}
                rows={charts.priciest}
                rowKey={modelName}
                caption="Most expensive models"
              />
            ) : (
              <p class="muted">Nothing priced has been used in 30 days.</p>
            )}
          </article>
        </div>
      )}

      <article class="card">
        <h2>Realtime (LiveKit, 30 days)</h2>
        {realtime.rooms === 0 && realtime.room_minutes === 0 ? (
          <p class="muted">
            No rooms yet. Mint a token with <code>POST /v1/livekit/token</code> and point LiveKit's webhooks
            at <code>{location.origin}/api/webhooks/livekit</code>; see <a href="/console/rooms">Rooms</a>.
          </p>
        ) : (
          <dl class="figures">
            <div>
              <dt>Room minutes</dt>
              <dd>{formatMinutes(realtime.room_minutes)}</dd>
            </div>
            <div>
              <dt>Participant minutes</dt>
              <dd>{formatMinutes(realtime.participant_minutes)}</dd>
            </div>
            <div>
              <dt>Rooms</dt>
              <dd>{formatInt(realtime.rooms)}</dd>
            </div>
            <div>
              <dt>Participants</dt>
              <dd>{formatInt(realtime.participants)}</dd>
            </div>
          </dl>
        )}
      </article>
    </section>
  );
}
