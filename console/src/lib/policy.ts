// Key policies and tenant ceilings as the console edits them (workers/limits/policy.ts,
// docs/limits.md). The console sends only the fields named here: an edit never carries anything
// a page does not show, whatever a stored policy or a future API holds. tests/unit/console-policy
// keeps these lists equal to the API's fields and to the table in docs/limits.md.

/** The limits a key's policy sets, and the operator's ceilings for a tenant: `PATCH /admin/tenants/:id {limits}`. */
export const LIMIT_FIELD_NAMES = [
  "rpm",
  "tpm",
  "maxConcurrent",
  "dailyBudgetUsd",
  "monthlyBudgetUsd",
  "allowedModels",
  "expiresAt",
] as const;

/** A key's policy: the limits and its guardrail rules, `PATCH /v1/keys/:id {policy}`. */
export const KEY_POLICY_FIELD_NAMES = [...LIMIT_FIELD_NAMES, "guardrails"] as const;

export type PolicyField = (typeof KEY_POLICY_FIELD_NAMES)[number];

export interface GuardrailRules {
  mandatory: string[];
  optional: string[];
  forbidden: string[];
  overrides: Record<string, Record<string, unknown>>;
}

/** A stored policy or ceilings, as GET /v1/keys and GET /admin/tenants show them. */
export interface Policy {
  rpm?: number;
  tpm?: number;
  maxConcurrent?: number;
  dailyBudgetUsd?: number;
  monthlyBudgetUsd?: number;
  allowedModels?: string[];
  expiresAt?: string;
  guardrails?: GuardrailRules;
}

/** A rate limit over the last 60 seconds (workers/limits/status.ts); `used` is null when Redis could not be read. */
export interface RateUse {
  limit: number;
  used: number | null;
  remaining: number | null;
  resetsAt: string | null;
}

export interface BudgetUse {
  limitUsd: number;
  spentUsd: number;
  reservedUsd: number | null;
  remainingUsd: number;
  periodStart: string;
  resetsAt: string;
}

/** Where a key stands against each effective limit (its own and its tenant's, the lower of each). */
export interface LimitStatus {
  requestsPerMinute?: RateUse;
  tokensPerMinute?: RateUse;
  concurrent?: { limit: number; inFlight: number | null; remaining: number | null };
  dailyBudget?: BudgetUse;
  monthlyBudget?: BudgetUse;
  expiresAt?: string;
}

export const NUMBER_FIELDS = ["rpm", "tpm", "maxConcurrent", "dailyBudgetUsd", "monthlyBudgetUsd"] as const;
type NumberField = (typeof NUMBER_FIELDS)[number];

export const FIELD_LABELS: Record<PolicyField, string> = {
  rpm: "Requests per minute",
  tpm: "Tokens per minute",
  maxConcurrent: "Requests in flight",
  dailyBudgetUsd: "Daily budget (USD)",
  monthlyBudgetUsd: "Monthly budget (USD)",
  allowedModels: "Allowed models",
  expiresAt: "Expires",
  guardrails: "Guardrails",
};

/** The form's text for each field; an empty text means the field is not set. */
export interface PolicyDraft {
  rpm: string;
  tpm: string;
  maxConcurrent: string;
  dailyBudgetUsd: string;
  monthlyBudgetUsd: string;
  /** One glob per line. */
  allowedModels: string;
  /** A datetime-local value, in the viewer's time zone. */
  expiresAt: string;
  mandatory: string;
  optional: string;
  forbidden: string;
  /** JSON: `{"<guardrail>": {config}}`. */
  overrides: string;
}

const pad = (n: number) => String(n).padStart(2, "0");

/** An ISO time as a datetime-local value in the viewer's time zone. */
export function toLocalInput(iso: string | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function draftOf(p: Policy): PolicyDraft {
  const num = (n: number | undefined) => (n === undefined ? "" : String(n));
  const g = p.guardrails;
  return {
    rpm: num(p.rpm),
    tpm: num(p.tpm),
    maxConcurrent: num(p.maxConcurrent),
    dailyBudgetUsd: num(p.dailyBudgetUsd),
    monthlyBudgetUsd: num(p.monthlyBudgetUsd),
    allowedModels: (p.allowedModels ?? []).join("\n"),
    expiresAt: toLocalInput(p.expiresAt),
    mandatory: (g?.mandatory ?? []).join(", "),
    optional: (g?.optional ?? []).join(", "),
    forbidden: (g?.forbidden ?? []).join(", "),
    overrides: g && Object.keys(g.overrides).length ? JSON.stringify(g.overrides, null, 2) : "",
  };
}

const list = (text: string, separator: RegExp) =>
  text
    .split(separator)
    .map((s) => s.trim())
    .filter(Boolean);

function numberOf(text: string, field: NumberField): number {
  const n = Number(text.trim());
  // NaN would travel as JSON null, which removes a field: refuse it here instead.
  if (!Number.isFinite(n)) throw new Error(`${FIELD_LABELS[field]}: "${text.trim()}" is not a number`);
  return n;
}

function overridesOf(text: string): Record<string, Record<string, unknown>> {
  if (!text.trim()) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`Guardrail overrides are not JSON: ${(err as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new Error('Guardrail overrides must be a JSON object: {"<guardrail>": {…config}}');
  return value as Record<string, Record<string, unknown>>;
}

/**
 * The PATCH for what the form changed, over the allowed fields only: a changed field gets its new
 * value, a cleared one null (which removes it), an untouched one is left out. The API checks the
 * values and its messages are shown as they are.
 */
export function patchOf(
  before: PolicyDraft,
  after: PolicyDraft,
  fields: readonly PolicyField[],
): Partial<Record<PolicyField, unknown>> {
  const patch: Partial<Record<PolicyField, unknown>> = {};
  for (const field of fields) {
    if (field === "guardrails") {
      const parts = ["mandatory", "optional", "forbidden", "overrides"] as const;
      if (parts.every((k) => before[k] === after[k])) continue;
      const rules: GuardrailRules = {
        mandatory: list(after.mandatory, /[\s,]+/),
        optional: list(after.optional, /[\s,]+/),
        forbidden: list(after.forbidden, /[\s,]+/),
        overrides: overridesOf(after.overrides),
      };
      const empty =
        !rules.mandatory.length &&
        !rules.optional.length &&
        !rules.forbidden.length &&
        !Object.keys(rules.overrides).length;
      patch.guardrails = empty ? null : rules;
      continue;
    }
    if (before[field] === after[field]) continue;
    const text = after[field].trim();
    if (!text) patch[field] = null;
    else if (field === "allowedModels") {
      const globs = list(text, /[\n,]+/);
      patch.allowedModels = globs.length ? globs : null;
    } else if (field === "expiresAt") {
      const at = new Date(text);
      if (Number.isNaN(at.getTime())) throw new Error(`Expires: "${text}" is not a date and time`);
      patch.expiresAt = at.toISOString();
    } else patch[field] = numberOf(text, field);
  }
  return patch;
}

/** The policy in a few words, for a list: what is set, nothing of what is not. */
export function summary(p: Policy): string[] {
  const out: string[] = [];
  if (p.allowedModels) out.push(`models: ${p.allowedModels.join(", ")}`);
  const g = p.guardrails;
  if (g?.mandatory.length) out.push(`requires ${g.mandatory.join(", ")}`);
  if (g?.optional.length) out.push(`may ask for ${g.optional.join(", ")}`);
  if (g?.forbidden.length) out.push(`never runs ${g.forbidden.join(", ")}`);
  if (g && Object.keys(g.overrides).length) out.push(`overrides ${Object.keys(g.overrides).join(", ")}`);
  return out;
}
