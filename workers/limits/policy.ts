import { z } from "zod";
import { guardrailPolicySchema } from "../guardrails/types";

/**
 * The limits a key's policy sets, and the same fields as the operator's ceilings for a tenant.
 * Budgets are USD per UTC day and per UTC month; `rpm`/`tpm` count over any 60 seconds.
 */
const LIMIT_FIELDS = {
  rpm: z.number().int().positive().max(10_000_000),
  tpm: z.number().int().positive().max(10_000_000_000),
  maxConcurrent: z.number().int().positive().max(100_000),
  dailyBudgetUsd: z.number().nonnegative().max(1_000_000_000),
  monthlyBudgetUsd: z.number().nonnegative().max(1_000_000_000),
  /** Globs over the model string as the client sends it: `*` any run of characters, `?` one. */
  allowedModels: z.array(z.string().trim().min(1).max(200)).min(1).max(100),
  expiresAt: z.iso.datetime({ offset: true }),
};

/**
 * Every field of a key policy: the limits, and which guardrails the key runs (mandatory), may ask
 * for (optional), may never run (forbidden) and with what config (overrides). A stored policy keeps
 * one JSON object, and PATCH replaces the fields it names, one by one (`guardrails` as a whole).
 */
const KEY_POLICY_FIELDS = { ...LIMIT_FIELDS, guardrails: guardrailPolicySchema };

type Shape = Record<string, z.ZodType>;
const optional = <S extends Shape>(shape: S) =>
  Object.fromEntries(Object.entries(shape).map(([k, v]) => [k, v.optional()])) as {
    [K in keyof S]: z.ZodOptional<S[K]>;
  };
const nullable = <S extends Shape>(shape: S) =>
  Object.fromEntries(Object.entries(shape).map(([k, v]) => [k, v.nullable().optional()])) as {
    [K in keyof S]: z.ZodOptional<z.ZodNullable<S[K]>>;
  };

/** A policy as stored and shown. Reading a stored one drops fields this version does not know. */
export const keyPolicy = z.object(optional(KEY_POLICY_FIELDS));
/** A policy in a request: unknown fields are refused, `null` removes a field. */
export const keyPolicyInput = z.object(nullable(KEY_POLICY_FIELDS)).strict();
export const tenantLimits = z.object(optional(LIMIT_FIELDS));
export const tenantLimitsInput = z.object(nullable(LIMIT_FIELDS)).strict();

export type KeyPolicy = z.output<typeof keyPolicy>;
export type KeyPolicyInput = z.output<typeof keyPolicyInput>;
export type TenantLimits = z.output<typeof tenantLimits>;
export type TenantLimitsInput = z.output<typeof tenantLimitsInput>;
type LimitValues = TenantLimits;

const LIMIT_NAMES = Object.keys(LIMIT_FIELDS) as (keyof LimitValues)[];

/** The fields a tenant's ceilings take (`PATCH /admin/tenants/:id {limits}`), in order. */
export const LIMIT_FIELD_NAMES: readonly string[] = LIMIT_NAMES;
/** The fields a key's policy takes (`PATCH /v1/keys/:id {policy}`), in order. */
export const KEY_POLICY_FIELD_NAMES: readonly string[] = Object.keys(KEY_POLICY_FIELDS);

/** A stored object with `patch` applied field by field: a value replaces, `null` removes. */
export function mergePolicy<T extends Record<string, unknown>>(
  current: T,
  patch: { [K in keyof T]?: T[K] | null },
): T {
  const out: Record<string, unknown> = { ...current };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else if (v !== undefined) out[k] = v;
  }
  return out as T;
}

/**
 * Whether a key's own policy limits it (such a key cannot create, change or revoke other keys):
 * any limit, and any guardrail rule, which a key minted without it would escape.
 */
export function restricts(policy: KeyPolicy): boolean {
  return LIMIT_NAMES.some((name) => policy[name] !== undefined) || policy.guardrails !== undefined;
}

/** The fields of a patch that concern budgets (their counters are rebuilt when these change). */
export function touchesBudgets(patch: { dailyBudgetUsd?: unknown; monthlyBudgetUsd?: unknown }): boolean {
  return patch.dailyBudgetUsd !== undefined || patch.monthlyBudgetUsd !== undefined;
}

/** What a key may do, its own policy and its tenant's ceilings together. */
export interface Limits {
  rpm: number | null;
  tpm: number | null;
  maxConcurrent: number | null;
  dailyBudgetUsd: number | null;
  monthlyBudgetUsd: number | null;
  /** A model must match every one of these (the key's list and the tenant's). */
  allowedModels: { patterns: string[]; test: RegExp }[];
  /** Epoch ms; the earlier of the key's and the tenant's. */
  expiresAt: number | null;
  /** Whether a limit counted in Redis (rate, tokens, concurrency, budget) is set. */
  counted: boolean;
}

const lower = (a: number | undefined, b: number | undefined): number | null =>
  a === undefined ? (b ?? null) : b === undefined ? a : Math.min(a, b);

/** `*` any run of characters, `?` one character, everything else literal; case does not matter. */
export function globs(patterns: string[]): RegExp {
  const alternatives = patterns.map((p) =>
    p
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, "."),
  );
  return new RegExp(`^(?:${alternatives.join("|")})$`, "i");
}

/**
 * The effective limits of a key: the lower of each number, the earlier expiry, and both
 * allow-lists. Null when neither the key nor its tenant limits anything, so such a key costs
 * nothing on the request path. Built once per key-cache fill, not per request.
 */
export function effectiveLimits(key: LimitValues, tenant: LimitValues): Limits | null {
  const allowedModels = [key.allowedModels, tenant.allowedModels]
    .filter((list): list is string[] => list !== undefined)
    .map((patterns) => ({ patterns, test: globs(patterns) }));
  const expiry = [key.expiresAt, tenant.expiresAt]
    .filter((v): v is string => v !== undefined)
    .map((v) => Date.parse(v));
  const limits: Limits = {
    rpm: lower(key.rpm, tenant.rpm),
    tpm: lower(key.tpm, tenant.tpm),
    maxConcurrent: lower(key.maxConcurrent, tenant.maxConcurrent),
    dailyBudgetUsd: lower(key.dailyBudgetUsd, tenant.dailyBudgetUsd),
    monthlyBudgetUsd: lower(key.monthlyBudgetUsd, tenant.monthlyBudgetUsd),
    allowedModels,
    expiresAt: expiry.length ? Math.min(...expiry) : null,
    counted: false,
  };
  limits.counted =
    limits.rpm !== null ||
    limits.tpm !== null ||
    limits.maxConcurrent !== null ||
    limits.dailyBudgetUsd !== null ||
    limits.monthlyBudgetUsd !== null;
  if (!limits.counted && allowedModels.length === 0 && limits.expiresAt === null) return null;
  return limits;
}

/** The first list that refuses `model`, or null when every list allows it. */
export function refusingList(limits: Limits, model: string): string[] | null {
  for (const list of limits.allowedModels) if (!list.test.test(model)) return list.patterns;
  return null;
}
