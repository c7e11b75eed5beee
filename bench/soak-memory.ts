// Whether a process's memory keeps growing, from RSS samples taken at a steady interval during a
// soak. Start-up and warm-up grow every process (JIT, pools, caches filling to their bounds), so
// only the second half of the run is judged: there a process that is flat must not trend upward by
// more than noise. The trend is the least-squares slope, which a garbage collector's sawtooth moves
// far less than it moves any two single samples.

export interface RssSample {
  /** Milliseconds since the load started. */
  atMs: number;
  rssKb: number;
}

export interface MemoryVerdict {
  /** Samples judged: those of the second half of the run. */
  samples: number;
  /** Least-squares slope over the judged samples, in MiB per minute (null: too few to judge). */
  slopeMbPerMin: number | null;
  /** What that slope adds across the judged window, in MiB. */
  growthMb: number | null;
  /** The growth allowed: the larger of MIN_TOLERANCE_MB and TOLERANCE_SHARE of the window's median RSS. */
  toleranceMb: number;
  /** "flat", "growing", or "too short" when the window holds fewer than MIN_SAMPLES samples. */
  verdict: "flat" | "growing" | "too short";
}

export const MIN_SAMPLES = 6;
export const MIN_TOLERANCE_MB = 10;
export const TOLERANCE_SHARE = 0.05;

/** Least-squares slope of y over x (units of y per unit of x); 0 when x does not vary. */
export function slope(points: readonly { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((t, p) => t + p.x, 0) / n;
  const my = points.reduce((t, p) => t + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * Judges one process over a run of `durationMs`: the samples at or after half of it are fitted, and
 * the process is "growing" when the fitted line rises across that window by more than the
 * tolerance. A leak of the size a soak exists to catch (a map that is never pruned, a stream that is
 * never released) rises steadily and is caught; noise around a flat line is not.
 */
export function judgeMemory(samples: readonly RssSample[], durationMs: number): MemoryVerdict {
  const from = durationMs / 2;
  const window = samples.filter((s) => s.atMs >= from);
  const mb = window.map((s) => s.rssKb / 1024);
  const toleranceMb = Math.max(MIN_TOLERANCE_MB, TOLERANCE_SHARE * (mb.length ? median(mb) : 0));
  if (window.length < MIN_SAMPLES) {
    return { samples: window.length, slopeMbPerMin: null, growthMb: null, toleranceMb, verdict: "too short" };
  }
  const perMs = slope(window.map((s) => ({ x: s.atMs, y: s.rssKb / 1024 })));
  const spanMs = (window.at(-1) as RssSample).atMs - (window[0] as RssSample).atMs;
  const growthMb = perMs * spanMs;
  return {
    samples: window.length,
    slopeMbPerMin: perMs * 60_000,
    growthMb,
    toleranceMb,
    verdict: growthMb > toleranceMb ? "growing" : "flat",
  };
}
