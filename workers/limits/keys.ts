/**
 * Where a key's limits live in Redis. Every key of one API key shares the hash tag `{<key id>}`,
 * so the one script that checks them all touches a single slot (a Redis Cluster accepts it).
 *
 *   relay:lim:{K}:req          ZSET  admission id → admitted at (ms): the requests of the last 60 s
 *   relay:lim:{K}:tok          ZSET  "<id>|<tokens>" → admitted at (ms): the tokens of the last 60 s;
 *                                    member "~" holds minus their sum (a negative score never falls
 *                                    in a time range)
 *   relay:lim:{K}:fly          ZSET  "<id>|<µUSD reserved>" → lease expiry (ms): requests in flight;
 *                                    member "~" holds minus the cost they reserved
 *   relay:lim:{K}:d:YYYYMMDD   string  µUSD settled on that UTC day (rebuilt from Postgres if missing)
 *   relay:lim:{K}:m:YYYYMM     string  µUSD settled in that UTC month (likewise)
 */
export interface LimitKeys {
  requests: string;
  tokens: string;
  inFlight: string;
  day: string;
  month: string;
}

/** The UTC day and month a request is charged to, and when they began and end. */
export interface Periods {
  day: string;
  month: string;
  dayStart: number;
  dayEnd: number;
  monthStart: number;
  monthEnd: number;
}

let current: Periods | undefined;

export function periodsAt(ms: number): Periods {
  if (current && ms >= current.dayStart && ms < current.dayEnd) return current;
  const d = new Date(ms);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  const dayStart = Date.UTC(y, m, d.getUTCDate());
  const pad = (n: number) => String(n).padStart(2, "0");
  const month = `${y}${pad(m + 1)}`;
  const periods: Periods = {
    day: `${month}${pad(d.getUTCDate())}`,
    month,
    dayStart,
    dayEnd: dayStart + 86_400_000,
    monthStart: Date.UTC(y, m, 1),
    monthEnd: Date.UTC(y, m + 1, 1),
  };
  current = periods;
  return periods;
}

export function limitKeys(keyId: string, periods: Periods): LimitKeys {
  const base = `relay:lim:{${keyId}}`;
  return {
    requests: `${base}:req`,
    tokens: `${base}:tok`,
    inFlight: `${base}:fly`,
    day: `${base}:d:${periods.day}`,
    month: `${base}:m:${periods.month}`,
  };
}

/** The rate windows, in ms. */
export const WINDOW_MS = 60_000;
/** Spend counters outlive their period by a day, so a request settled after midnight still finds its own. */
export const DAY_COUNTER_TTL_S = 2 * 86_400;
export const MONTH_COUNTER_TTL_S = 32 * 86_400;
