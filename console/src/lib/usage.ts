import { api } from "./api";

/** GET /v1/usage (workers/usage/routes.ts), as the console reads it. */
export interface UsageMeasures {
  requests: number;
  errors: number;
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
  cost_usd: number | null;
  unpriced_requests: number;
}

export interface UsageRow extends UsageMeasures {
  day?: string;
  model?: string | null;
  latency_ms_avg: number | null;
  latency_ms_p95: number | null;
}

export interface RealtimeTally {
  room_minutes: number;
  participant_minutes: number;
  egress_minutes: number;
  ingress_minutes: number;
  rooms: number;
  participants: number;
  tracks_published: number;
}

export interface Usage {
  from: string;
  to: string;
  data: UsageRow[];
  totals: UsageMeasures;
  realtime: { data: (RealtimeTally & { day: string })[]; totals: RealtimeTally };
}

export function usage(from: Date, groupBy: "day" | "model"): Promise<Usage> {
  return api<Usage>("/usage", { query: { from: from.toISOString(), group_by: groupBy } });
}
