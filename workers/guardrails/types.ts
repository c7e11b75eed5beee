import { z } from "zod";

// Guardrails as the seed's Relayna Gateway defines them: an operator's catalog, a policy per key,
// the client's opt-in, and three moments to run — before the call (the request), after it (a whole
// answer) and during it (a stream, event by event).

export const MODES = ["pre_call", "post_call", "during_call"] as const;
export type Mode = (typeof MODES)[number];
export const FAILURE_POLICIES = ["fail_closed", "fail_open", "dry_run"] as const;
export type FailurePolicy = (typeof FAILURE_POLICIES)[number];
export type Action = "allow" | "block" | "modify" | "warn";

/** A catalog entry as the Worker uses it (the bearer token of an http guardrail stays sealed). */
export interface GuardrailDef {
  name: string;
  description: string;
  kind: "builtin" | "http";
  modes: Mode[];
  defaultOn: boolean;
  failurePolicy: FailurePolicy;
  config: Record<string, unknown>;
  configSchema: Record<string, unknown> | null;
  enabled: boolean;
  endpointUrl: string | null;
  timeoutMs: number | null;
  hasToken: boolean;
}

const names = z.array(z.string().min(1).max(64)).max(64);

/** What a key's policy says of guardrails (shown and changed with the rest of the key's policy). */
export const guardrailPolicySchema = z
  .object({
    mandatory: names.default([]),
    optional: names.default([]),
    forbidden: names.default([]),
    overrides: z.record(z.string().min(1).max(64), z.record(z.string(), z.unknown())).default({}),
  })
  .strict();
export type GuardrailPolicy = z.output<typeof guardrailPolicySchema>;

export const NO_GUARDRAIL_POLICY: GuardrailPolicy = {
  mandatory: [],
  optional: [],
  forbidden: [],
  overrides: {},
};

/** A guardrail as one request runs it: its definition and its effective config. */
export interface AppliedGuardrail {
  def: GuardrailDef;
  config: Record<string, unknown>;
  /** Why it runs: on by default, the key's mandatory list, or the client asked. */
  source: "default" | "mandatory" | "requested";
}

/** One run of one guardrail, as recorded: counts and categories, never what it saw. */
export interface ExecutionResult {
  guardrail: string;
  mode: Mode;
  action: Action;
  failurePolicy: FailurePolicy;
  latencyMs: number;
  reason: string | null;
  metadata: Record<string, unknown>;
}
