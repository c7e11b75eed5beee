// Postgres text and jsonb cannot hold U+0000, and one such string fails the whole statement. What
// relay stores without having validated it (usage, run events and outputs an upstream or a tool
// produced, audit details) goes through here first: each NUL becomes U+FFFD, so the row is kept
// with a visible mark instead of being lost or blocking the rows queued behind it.

const REPLACEMENT = "\ufffd";

/** The value with every NUL in its strings (and object keys) replaced; the same object when there is none. */
export function storable<T>(value: T): T {
  return clean(value) as T;
}

function clean(value: unknown): unknown {
  if (typeof value === "string")
    return value.includes("\u0000") ? value.replaceAll("\u0000", REPLACEMENT) : value;
  if (Array.isArray(value)) {
    let out: unknown[] | null = null;
    value.forEach((item, i) => {
      const c = clean(item);
      if (c !== item) {
        out ??= [...value];
        out[i] = c;
      }
    });
    return out ?? value;
  }
  if (value && typeof value === "object" && !(value instanceof Date)) {
    let out: Record<string, unknown> | null = null;
    for (const [k, v] of Object.entries(value)) {
      const c = clean(v);
      const key = clean(k) as string;
      if (c !== v || key !== k) {
        out ??= { ...(value as Record<string, unknown>) };
        if (key !== k) delete out[k];
        out[key] = c;
      }
    }
    return out ?? value;
  }
  return value;
}
