import type { ComponentChildren } from "preact";
import { useEffect, useId, useRef, useState } from "preact/hooks";
import { formatDateTime, formatInt, formatUsd } from "../lib/format";
import {
  draftOf,
  FIELD_LABELS,
  type LimitStatus,
  NUMBER_FIELDS,
  type Policy,
  type PolicyDraft,
  type PolicyField,
  patchOf,
} from "../lib/policy";
import { ErrorNote, Field, type SubmitHandler, Time, useAction } from "./ui";

// A key's policy or a tenant's ceilings: the form that edits them and the meters that show where a
// key stands. Keys (pages/keys.tsx) and tenants (pages/admin/tenants.tsx) share both.

const HINTS: Record<(typeof NUMBER_FIELDS)[number], string> = {
  rpm: "In any 60 seconds",
  tpm: "Input and output, in any 60 seconds",
  maxConcurrent: "At once; a stream counts until it ends",
  dailyBudgetUsd: "Spend per UTC day",
  monthlyBudgetUsd: "Spend per UTC month",
};

export function PolicyForm(props: {
  /** The form's name (its heading and accessible name). */
  title: string;
  /** The fields this form may send: the API's allow-list for what it edits. */
  fields: readonly PolicyField[];
  current: Policy;
  /** Names for the guardrail fields' suggestions. */
  guardrailNames?: string[];
  intro?: ComponentChildren;
  save: (patch: Partial<Record<PolicyField, unknown>>) => Promise<unknown>;
  onSaved: () => void;
  onCancel: () => void;
}) {
  const before = draftOf(props.current);
  const [d, setD] = useState<PolicyDraft>(before);
  const action = useAction();
  const first = useRef<HTMLInputElement>(null);
  const listId = useId();
  useEffect(() => first.current?.focus(), []);
  const has = (f: PolicyField) => props.fields.includes(f);
  const bind = (key: keyof PolicyDraft) => ({
    value: d[key],
    onInput: (e: { currentTarget: { value: string } }) => {
      const value = e.currentTarget.value;
      setD((cur) => ({ ...cur, [key]: value }));
    },
  });

  const submit = async (e: SubmitHandler) => {
    e.preventDefault();
    let patch: Partial<Record<PolicyField, unknown>>;
    try {
      patch = patchOf(before, d, props.fields);
    } catch (err) {
      action.setError(err);
      return;
    }
    if (Object.keys(patch).length === 0) {
      action.setError(new Error("Nothing changed."));
      return;
    }
    const done = await action.run(async () => {
      await props.save(patch);
      return true;
    });
    if (done) props.onSaved();
  };

  return (
    <form class="card" onSubmit={submit} aria-label={props.title}>
      <h2>{props.title}</h2>
      {props.intro}
      <p class="muted small">Empty means no limit of this kind.</p>
      <div class="form-grid">
        {NUMBER_FIELDS.filter(has).map((f, i) => (
          <Field key={f} label={FIELD_LABELS[f]} hint={HINTS[f]}>
            <input
              ref={i === 0 ? first : undefined}
              type="number"
              inputMode={f.endsWith("Usd") ? "decimal" : "numeric"}
              min={f.endsWith("Usd") ? 0 : 1}
              step={f.endsWith("Usd") ? "any" : 1}
              {...bind(f)}
            />
          </Field>
        ))}
        {has("expiresAt") && (
          <Field label={FIELD_LABELS.expiresAt} hint="Your time zone; refused after this">
            <input type="datetime-local" {...bind("expiresAt")} />
          </Field>
        )}
        {has("allowedModels") && (
          <Field
            label={FIELD_LABELS.allowedModels}
            hint={
              <>
                One glob per line over the model name as clients send it: <code>*</code> any run,{" "}
                <code>?</code> one character. Empty: every model
              </>
            }
          >
            <textarea
              rows={3}
              spellcheck={false}
              placeholder={"claude-*\ngroq:*"}
              {...bind("allowedModels")}
            />
          </Field>
        )}
      </div>
      {has("guardrails") && (
        <fieldset class="checks">
          <legend>Guardrails</legend>
          <datalist id={listId}>
            {(props.guardrailNames ?? []).map((n) => (
              <option key={n} value={n} />
            ))}
          </datalist>
          <div class="form-grid">
            <Field label="Mandatory" hint="Run on every request of this key (names, comma-separated)">
              <input list={listId} autoComplete="off" spellcheck={false} {...bind("mandatory")} />
            </Field>
            <Field label="Optional" hint="This key's requests may ask for them">
              <input list={listId} autoComplete="off" spellcheck={false} {...bind("optional")} />
            </Field>
            <Field label="Forbidden" hint="Never run for this key, even when on by default">
              <input list={listId} autoComplete="off" spellcheck={false} {...bind("forbidden")} />
            </Field>
            <Field
              label="Overrides"
              hint={
                <>
                  JSON, merged over the catalog's config:{" "}
                  <code>{'{"pii-redact": {"categories": ["email"]}}'}</code>
                </>
              }
            >
              <textarea rows={3} spellcheck={false} {...bind("overrides")} />
            </Field>
          </div>
        </fieldset>
      )}
      <ErrorNote error={action.error} />
      <div class="row-actions">
        <button type="submit" class="button primary" disabled={action.busy}>
          {action.busy ? "Saving…" : "Save"}
        </button>
        <button type="button" class="button" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function Meter(props: {
  name: keyof LimitStatus;
  label: string;
  used: number | null;
  limit: number;
  text: (n: number) => string;
  note?: ComponentChildren;
}) {
  const { used, limit } = props;
  const shown = `${used === null ? "?" : props.text(used)} / ${props.text(limit)}`;
  return (
    <div class="meter-row" data-limit={props.name}>
      <span class="meter-label">
        {props.label}{" "}
        <span class="meter-value" data-testid={`${props.name}-value`}>
          {shown}
        </span>
      </span>
      <meter
        min={0}
        max={limit}
        low={limit * 0.75}
        high={limit * 0.9}
        optimum={0}
        value={used ?? 0}
        aria-label={`${props.label}: ${used === null ? "unknown" : props.text(used)} of ${props.text(limit)}`}
      />
      {used === null && <span class="muted small">not counted: Redis is unreachable or not configured</span>}
      {props.note}
    </div>
  );
}

/** Where a key stands now against each limit it has (its own or its tenant's, whichever is lower). */
export function LimitMeters(props: { status: LimitStatus | null | undefined }) {
  const s = props.status;
  if (!s || Object.keys(s).length === 0) return <span class="muted">no limits</span>;
  const budget = (name: "dailyBudget" | "monthlyBudget", label: string) => {
    const b = s[name];
    if (!b) return null;
    return (
      <Meter
        name={name}
        label={label}
        used={b.spentUsd + (b.reservedUsd ?? 0)}
        limit={b.limitUsd}
        text={formatUsd}
        note={
          <span class="muted small">
            resets <Time iso={b.resetsAt} />
          </span>
        }
      />
    );
  };
  return (
    <div class="meters">
      {s.requestsPerMinute && (
        <Meter
          name="requestsPerMinute"
          label="Requests / min"
          used={s.requestsPerMinute.used}
          limit={s.requestsPerMinute.limit}
          text={formatInt}
        />
      )}
      {s.tokensPerMinute && (
        <Meter
          name="tokensPerMinute"
          label="Tokens / min"
          used={s.tokensPerMinute.used}
          limit={s.tokensPerMinute.limit}
          text={formatInt}
        />
      )}
      {s.concurrent && (
        <Meter
          name="concurrent"
          label="In flight"
          used={s.concurrent.inFlight}
          limit={s.concurrent.limit}
          text={formatInt}
        />
      )}
      {budget("dailyBudget", "Today")}
      {budget("monthlyBudget", "This month")}
      {s.expiresAt && (
        <div class="meter-row" data-limit="expiresAt">
          <span class="meter-label">
            Expires <Time iso={s.expiresAt} />
          </span>
        </div>
      )}
    </div>
  );
}

/** Ceilings or a policy's numbers in words, for a list without counters (tenants). */
export function limitsText(p: Policy): string[] {
  const out: string[] = [];
  if (p.rpm !== undefined) out.push(`${formatInt(p.rpm)} requests/min`);
  if (p.tpm !== undefined) out.push(`${formatInt(p.tpm)} tokens/min`);
  if (p.maxConcurrent !== undefined) out.push(`${formatInt(p.maxConcurrent)} in flight`);
  if (p.dailyBudgetUsd !== undefined) out.push(`${formatUsd(p.dailyBudgetUsd)}/day`);
  if (p.monthlyBudgetUsd !== undefined) out.push(`${formatUsd(p.monthlyBudgetUsd)}/month`);
  if (p.allowedModels) out.push(`models: ${p.allowedModels.join(", ")}`);
  if (p.expiresAt) out.push(`expires ${formatDateTime(p.expiresAt)}`);
  return out;
}
