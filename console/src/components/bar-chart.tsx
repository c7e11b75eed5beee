import type { Chart as ChartType } from "chart.js";
import { useEffect, useRef, useState } from "preact/hooks";

export interface Series {
  label: string;
  data: number[];
  /** A CSS custom property of the theme (styles.css), so charts follow light and dark mode. */
  color: "--chart-1" | "--chart-2" | "--chart-error";
}

const dark = window.matchMedia("(prefers-color-scheme: dark)");

function themeColor(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
}

/** A bar chart drawn by Chart.js (loaded with the first chart on a page), redrawn on a theme change. */
export function BarChart(props: {
  labels: string[];
  series: Series[];
  label: string;
  horizontal?: boolean;
  stacked?: boolean;
  format?: (value: number) => string;
  /** Counts: no ticks between whole numbers. */
  integer?: boolean;
  height?: number;
}) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const [scheme, setScheme] = useState(dark.matches);
  const [drawn, setDrawn] = useState(false);
  const [failed, setFailed] = useState<string | null>(null);

  useEffect(() => {
    const onChange = () => setScheme(dark.matches);
    dark.addEventListener("change", onChange);
    return () => dark.removeEventListener("change", onChange);
  }, []);

  useEffect(() => {
    let chart: ChartType | undefined;
    let cancelled = false;
    import("../lib/charts")
      .then(({ Chart }) => {
        if (cancelled || !canvas.current) return;
        const text = themeColor("--muted");
        const grid = themeColor("--border");
        const value = props.format ?? ((v: number) => String(v));
        const valueAxis = {
          stacked: props.stacked,
          beginAtZero: true,
          ticks: {
            color: text,
            callback: (v: string | number) => value(Number(v)),
            maxTicksLimit: 5,
            precision: props.integer ? 0 : undefined,
          },
          grid: { color: grid },
        };
        const labelAxis = {
          stacked: props.stacked,
          ticks: { color: text, autoSkip: true },
          grid: { display: false },
        };
        chart = new Chart(canvas.current, {
          type: "bar",
          data: {
            labels: props.labels,
            datasets: props.series.map((s) => ({
              label: s.label,
              data: s.data,
              backgroundColor: themeColor(s.color),
              borderRadius: 3,
              maxBarThickness: 28,
            })),
          },
          options: {
            indexAxis: props.horizontal ? "y" : "x",
            responsive: true,
            maintainAspectRatio: false,
            animation: false,
            plugins: {
              legend: { display: props.series.length > 1, labels: { color: text, boxWidth: 12 } },
              tooltip: {
                callbacks: { label: (ctx) => `${ctx.dataset.label}: ${value(Number(ctx.raw))}` },
              },
            },
            scales: props.horizontal ? { x: valueAxis, y: labelAxis } : { x: labelAxis, y: valueAxis },
          },
        });
        setDrawn(true);
      })
      .catch((err: unknown) => setFailed(err instanceof Error ? err.message : String(err)));
    return () => {
      cancelled = true;
      chart?.destroy();
    };
  }, [props.labels, props.series, props.horizontal, props.stacked, props.integer, scheme]);

  if (failed) return <p class="muted">The chart could not be drawn: {failed}</p>;
  return (
    <div class="chart" style={{ height: `${props.height ?? 220}px` }} data-drawn={drawn ? "true" : undefined}>
      <canvas ref={canvas} role="img" aria-label={props.label} />
    </div>
  );
}
