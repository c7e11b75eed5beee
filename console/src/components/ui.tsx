import { type ComponentChildren, cloneElement, type TargetedSubmitEvent, type VNode } from "preact";
import { useEffect, useId, useMemo, useRef, useState } from "preact/hooks";
import { ApiError } from "../lib/api";
import { formatDateTime } from "../lib/format";

export function PageHeader(props: { title: string; children?: ComponentChildren }) {
  return (
    <header class="page-header">
      <h1>{props.title}</h1>
      {props.children && <p class="muted">{props.children}</p>}
    </header>
  );
}

/** The API's own message (and its request id, which finds it in the logs). */
export function ErrorNote(props: { error: unknown }) {
  const err = props.error;
  if (!err) return null;
  const message = err instanceof Error ? err.message : String(err);
  return (
    <div class="note error" role="alert">
      <p class="pre-line">{message}</p>
      {err instanceof ApiError && err.requestId && <p class="muted small">Request id: {err.requestId}</p>}
    </div>
  );
}

export function Loading(props: { what?: string }) {
  return (
    <p class="muted" aria-live="polite">
      Loading{props.what ? ` ${props.what}` : ""}…
    </p>
  );
}

/** An empty list says what to do next. */
export function Empty(props: { title: string; children?: ComponentChildren }) {
  return (
    <div class="empty">
      <h2>{props.title}</h2>
      {props.children}
    </div>
  );
}

export function Time(props: { iso: string | null | undefined }) {
  if (!props.iso) return <span class="muted">—</span>;
  return (
    <time dateTime={props.iso} title={props.iso}>
      {formatDateTime(props.iso)}
    </time>
  );
}

/** A JSON value (a tool's arguments or result) as a person reads it; a string stays as it is. */
export function JsonBlock(props: { value: unknown; label: string }) {
  const text = typeof props.value === "string" ? props.value : JSON.stringify(props.value, null, 2);
  return (
    // A scrolling region must take the keyboard's focus, or its end cannot be reached without a mouse.
    // biome-ignore lint/a11y/noNoninteractiveTabindex: see above.
    <pre class="json" tabIndex={0} title={props.label}>
      {text}
    </pre>
  );
}

export function CopyButton(props: { text: string; label?: string }) {
  const [state, setState] = useState<"idle" | "copied" | "failed">("idle");
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(props.text);
      setState("copied");
    } catch {
      setState("failed");
    }
    setTimeout(() => setState("idle"), 2000);
  };
  return (
    <button type="button" class="button small" onClick={copy} aria-live="polite">
      {state === "copied" ? "Copied" : state === "failed" ? "Select and copy it" : (props.label ?? "Copy")}
    </button>
  );
}

export function CodeBlock(props: { code: string }) {
  return (
    <div class="code">
      <pre>
        <code>{props.code}</code>
      </pre>
      <CopyButton text={props.code} />
    </div>
  );
}

/** A secret the API shows once: in view, focused, with a copy button and the warning. */
export function SecretOnce(props: {
  title: string;
  secret: string;
  children?: ComponentChildren;
  onDone: () => void;
}) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => ref.current?.focus(), []);
  return (
    <div class="note success" role="status" tabIndex={-1} ref={ref}>
      <h2>{props.title}</h2>
      <p>Copy it now: relay keeps only a hash and will not show it again.</p>
      <div class="secret">
        <code data-testid="secret">{props.secret}</code>
        <CopyButton text={props.secret} />
      </div>
      {props.children}
      <button type="button" class="button" onClick={props.onDone}>
        I have stored it
      </button>
    </div>
  );
}

export interface Column<T> {
  label: string;
  render: (row: T) => ComponentChildren;
  class?: string;
}

/** A table that turns into labelled cards on a phone, so nothing scrolls sideways. */
export function DataTable<T>(props: {
  columns: Column<T>[];
  rows: T[];
  rowKey: (row: T) => string;
  caption?: string;
}) {
  return (
    <table class="table">
      {props.caption && <caption class="visually-hidden">{props.caption}</caption>}
      <thead>
        <tr>
          {props.columns.map((col) => (
            <th scope="col" key={col.label} class={col.class}>
              {col.label}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {props.rows.map((row) => (
          <tr key={props.rowKey(row)}>
            {props.columns.map((col) => (
              <td key={col.label} data-label={col.label} class={col.class}>
                <div>{col.render(row)}</div>
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export const PAGE_SIZE = 20;

/** A page of a list the API answers whole (keys, credentials, models…). */
export function usePaged<T>(items: T[] | undefined, size = PAGE_SIZE) {
  const [page, setPage] = useState(0);
  const list = items ?? [];
  const pages = Math.max(1, Math.ceil(list.length / size));
  const current = Math.min(page, pages - 1);
  const rows = useMemo(() => list.slice(current * size, current * size + size), [list, current, size]);
  return { rows, page: current, pages, total: list.length, setPage };
}

export function Pager(props: {
  page: number;
  pages?: number;
  hasNext?: boolean;
  onPage: (page: number) => void;
  label?: string;
}) {
  const hasNext = props.hasNext ?? (props.pages !== undefined && props.page < props.pages - 1);
  if (props.page === 0 && !hasNext) return null;
  return (
    <nav class="pager" aria-label={props.label ?? "Pages"}>
      <button
        type="button"
        class="button small"
        disabled={props.page === 0}
        onClick={() => props.onPage(props.page - 1)}
      >
        ← Previous
      </button>
      <span class="muted">
        Page {props.page + 1}
        {props.pages !== undefined ? ` of ${props.pages}` : ""}
      </span>
      <button
        type="button"
        class="button small"
        disabled={!hasNext}
        onClick={() => props.onPage(props.page + 1)}
      >
        Next →
      </button>
    </nav>
  );
}

/** A labelled control; the hint is its description, not part of its name. */
export function Field(props: { label: string; hint?: ComponentChildren; children: VNode }) {
  const id = useId();
  const control = cloneElement(props.children, {
    id,
    "aria-describedby": props.hint ? `${id}-hint` : undefined,
  });
  return (
    <div class="field">
      <label for={id} class="label">
        {props.label}
      </label>
      {control}
      {props.hint && (
        <span id={`${id}-hint`} class="hint">
          {props.hint}
        </span>
      )}
    </div>
  );
}

export type SubmitHandler = TargetedSubmitEvent<HTMLFormElement>;

/** A form's busy flag and error around one async action. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = async <T,>(action: () => Promise<T>): Promise<T | undefined> => {
    setBusy(true);
    setError(null);
    try {
      return await action();
    } catch (err) {
      setError(err);
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run, setError };
}
