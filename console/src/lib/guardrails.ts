// The guardrail catalog as the API describes it (workers/guardrails/types.ts), in words.

export type GuardrailMode = "pre_call" | "post_call" | "during_call";
export type FailurePolicy = "fail_closed" | "fail_open" | "dry_run";
export type GuardrailAction = "allow" | "block" | "modify" | "warn";

export const MODES: GuardrailMode[] = ["pre_call", "post_call", "during_call"];
export const FAILURE_POLICIES: FailurePolicy[] = ["fail_closed", "fail_open", "dry_run"];
export const ACTIONS: GuardrailAction[] = ["allow", "block", "modify", "warn"];

export const MODE_TEXT: Record<GuardrailMode, string> = {
  pre_call: "the request",
  post_call: "the whole answer",
  during_call: "a streamed answer, as it streams",
};

export const FAILURE_POLICY_TEXT: Record<FailurePolicy, string> = {
  fail_closed: "the request fails",
  fail_open: "the request goes on (a warning is recorded)",
  dry_run: "nothing changes: what it would do is recorded",
};

/** GET /admin/guardrails: a catalog entry (an http guardrail's bearer token is never shown). */
export interface CatalogEntry {
  name: string;
  description: string;
  kind: "builtin" | "http";
  modes: GuardrailMode[];
  defaultOn: boolean;
  failurePolicy: FailurePolicy;
  config: Record<string, unknown>;
  configSchema: Record<string, unknown> | null;
  enabled: boolean;
  endpointUrl: string | null;
  timeoutMs: number | null;
  hasToken: boolean;
}
