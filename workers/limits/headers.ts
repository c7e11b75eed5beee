/** Where a key stands against its rate limits after (or instead of) this request. */
export interface RateState {
  requests?: { limit: number; remaining: number; resetMs: number };
  tokens?: { limit: number; remaining: number; resetMs: number };
}

/** OpenAI's notation for `x-ratelimit-reset-*`: Go durations, e.g. "20ms", "1.5s", "6m0s". */
export function goDuration(ms: number): string {
  const whole = Math.max(Math.round(ms), 0);
  if (whole < 1000) return `${whole}ms`;
  const h = Math.floor(whole / 3_600_000);
  const m = Math.floor((whole % 3_600_000) / 60_000);
  const s = `${(whole % 60_000) / 1000}s`;
  return h ? `${h}h${m}m${s}` : m ? `${m}m${s}` : s;
}

/**
 * OpenAI's `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`, which the official SDKs expose,
 * and on Anthropic's route also `anthropic-ratelimit-{requests,tokens}-{limit,remaining,reset}`
 * (reset as an RFC 3339 instant). A reset is when the oldest unit in the 60-second window leaves
 * it, i.e. when `remaining` next grows.
 */
export function rateLimitHeaders(state: RateState, anthropic: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  const now = anthropic ? Date.now() : 0;
  for (const kind of ["requests", "tokens"] as const) {
    const s = state[kind];
    if (!s) continue;
    const remaining = String(Math.max(s.remaining, 0));
    out[`x-ratelimit-limit-${kind}`] = String(s.limit);
    out[`x-ratelimit-remaining-${kind}`] = remaining;
    out[`x-ratelimit-reset-${kind}`] = goDuration(s.resetMs);
    if (anthropic) {
      out[`anthropic-ratelimit-${kind}-limit`] = String(s.limit);
      out[`anthropic-ratelimit-${kind}-remaining`] = remaining;
      out[`anthropic-ratelimit-${kind}-reset`] = new Date(
        Math.ceil((now + Math.max(s.resetMs, 0)) / 1000) * 1000,
      ).toISOString();
    }
  }
  return out;
}
