// Numbers and dates as a person reads them, in the viewer's own locale and time zone.

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const dayFormat = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", timeZone: "UTC" });
const integer = new Intl.NumberFormat();
const compact = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });
const percent = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 1 });

export function formatDateTime(iso: string | null | undefined): string {
  return iso ? dateTime.format(new Date(iso)) : "—";
}

/** A UTC calendar day (YYYY-MM-DD) as a short label: the usage API buckets by UTC day. */
export function formatDay(day: string): string {
  return dayFormat.format(new Date(`${day}T00:00:00Z`));
}

export function formatInt(n: number): string {
  return integer.format(n);
}

export function formatCompact(n: number): string {
  return n < 10_000 ? integer.format(n) : compact.format(n);
}

export function formatPercent(ratio: number): string {
  return percent.format(ratio);
}

/** US dollars: cents for ordinary sums, two significant digits for the fractions of a cent requests cost. */
export function formatUsd(n: number | null | undefined): string {
  if (n === null || n === undefined) return "—";
  const small = n !== 0 && Math.abs(n) < 0.01;
  return new Intl.NumberFormat(undefined, {
    style: "currency",
    currency: "USD",
    ...(small ? { maximumSignificantDigits: 2 } : { minimumFractionDigits: 2, maximumFractionDigits: 2 }),
  }).format(n);
}

export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "—";
  return ms < 1000 ? `${integer.format(Math.round(ms))} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

export function formatMinutes(min: number): string {
  if (min < 1) return `${Math.round(min * 60)} s`;
  return min < 120 ? `${min.toFixed(min < 10 ? 1 : 0)} min` : `${(min / 60).toFixed(1)} h`;
}
